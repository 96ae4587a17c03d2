#!/usr/bin/env bash
# Prepare an unpacked llama-cpp-python sdist for one of our two build profiles (see install_llama_cpp.sh).
#   scripts/patch_llama_cpp_sdist.sh SRC_DIR host|portable CACHE_ENTRY_NAME
# Edits only the unpacked copy; the cached sdist stays as PyPI served it. This file's hash is part of
# the wheel cache key, so changing it rebuilds.
set -euo pipefail
src=$1
profile=$2
entry=$3
ggml_src="$src/vendor/llama.cpp/ggml/src/CMakeLists.txt"

# llava/mtmd (multimodal) is never used here and costs about a minute of the build.
sed -i 's/^option(LLAVA_BUILD "Build llava shared library and install alongside python package" ON)/option(LLAVA_BUILD "Build llava shared library and install alongside python package" OFF)/' "$src/CMakeLists.txt"

# The entry cache (catalog_layout=entries) holds one llama.cpp sequence per cached catalog entry, so the
# number of sequences bounds how many entries stay cached. Edits, each checked (replace_once fails loudly):
#  - LLAMA_MAX_SEQ 256 -> 1024 (src/llama-cparams.h). Costs per decode: a 1024x1024-bit coupling matrix
#    cleared (128 KB); per KV cell a 128-byte sequence bitset (1 MB at 8k cells).
#  - the coupling check walks the sequences present in the batch, not all n_seq_max^2 pairs (1M bit
#    tests per decode at 1024).
#  - logits rows: llama.cpp reserves max(n_outputs, n_seq_max) rows of n_vocab floats (1 MB each on
#    Gemma's 262k vocabulary) in the output buffer and in the worst-case graphs; capped here at the
#    context's n_outputs_max, which the engine sets to the most rows it asks for in one decode. At 243
#    sequences the uncapped rows were ~190 MB of RSS; at 1024 they would be 2 GB.
llama="$src/vendor/llama.cpp/src"
replace_once() {  # FILE OLD NEW
  python3 -c '
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
if text.count(old) != 1:
    sys.exit(f"unexpected sdist: {old!r} occurs {text.count(old)} times in {path}")
open(path, "w").write(text.replace(old, new))
' "$@"
}
replace_once "$llama/llama-cparams.h" '#define LLAMA_MAX_SEQ 256' '#define LLAMA_MAX_SEQ 1024'
replace_once "$llama/llama-batch.cpp" \
'        for (uint32_t s0 = 0; s0 < n_seq_max; ++s0) {
            for (uint32_t s1 = 0; s1 < n_seq_max; ++s1) {
                if (seq_cpl[s0][s1]) {' \
'        for (const llama_seq_id s0 : seq_id_unq) {
            for (const llama_seq_id s1 : seq_id_unq) {
                if (seq_cpl[s0][s1]) {'
replace_once "$llama/llama-context.cpp" \
'    const int64_t n_outputs_max = std::max<int64_t>(n_outputs, n_seq_max());' \
'    const int64_t n_outputs_max = std::max<int64_t>(n_outputs, std::min<int64_t>(n_seq_max(), cparams.n_outputs_max));'
replace_once "$llama/llama-context.cpp" \
'            if (output_reserve(params.n_seq_max) < params.n_seq_max) {' \
'            const uint32_t n_rows = std::min(cparams.n_seq_max, cparams.n_outputs_max);
            if (output_reserve(n_rows) < (int32_t) n_rows) {'
for indent in '    ' '        '; do
  replace_once "$llama/llama-context.cpp" \
"${indent}const uint32_t n_seqs = cparams.n_seq_max;
${indent}const uint32_t n_tokens = std::min(cparams.n_ctx, cparams.n_ubatch);
" \
"${indent}const uint32_t n_seqs = std::min(cparams.n_seq_max, cparams.n_outputs_max);
${indent}const uint32_t n_tokens = std::min(cparams.n_ctx, cparams.n_ubatch);
"
done

if [ "$profile" = portable ]; then
  # One CPU backend per instruction-set level, chosen at load time. Upstream's x86 list minus:
  #  - sapphirerapids (AMX_TILE AMX_INT8): the AMX matmul path that faults; such hosts get zen4's
  #    variant (AVX-512 VBMI/VNNI/BF16), the same instructions without AMX;
  #  - ivybridge, piledriver, cannonlake, cooperlake: pre-2013 desktop parts or near-duplicates of a
  #    neighbour that stays (sandybridge, skylakex, cascadelake). Each variant costs ~1 min of build.
  grep -q 'ggml_add_cpu_backend_variant(sapphirerapids' "$ggml_src" || { echo "unexpected sdist: no sapphirerapids variant" >&2; exit 1; }
  sed -i -E '/ggml_add_cpu_backend_variant\((sapphirerapids|ivybridge|piledriver|cannonlake|cooperlake)[ )]/d' "$ggml_src"
  # ggml installs dynamic backends to bin/; the Python package looks in llama_cpp/lib.
  sed -i 's|install(TARGETS ${backend} LIBRARY DESTINATION ${CMAKE_INSTALL_BINDIR})|install(TARGETS ${backend} LIBRARY DESTINATION ${SKBUILD_PLATLIB_DIR}/llama_cpp/lib)|' "$ggml_src"
  grep -q 'SKBUILD_PLATLIB_DIR}/llama_cpp/lib)' "$ggml_src" || { echo "unexpected sdist: backend install rule not found" >&2; exit 1; }
  # Dynamic backends need an $ORIGIN rpath to find libggml-base.so beside them.
  sed -i 's|target_link_libraries(${backend} PRIVATE ggml-base)|target_link_libraries(${backend} PRIVATE ggml-base)\n    set_target_properties(${backend} PROPERTIES INSTALL_RPATH "$ORIGIN" BUILD_WITH_INSTALL_RPATH TRUE)|' "$ggml_src"
  # llama_backend_init() searches the executable's folder and the working directory, neither of which
  # holds the package's libraries: load the best CPU variant from llama_cpp/lib right after import.
  cat >> "$src/llama_cpp/llama_cpp.py" <<'EOF'


# shopintent portable build: choose the best CPU backend for this host from the package's own folder,
# or the one SHOPINTENT_CPU_VARIANT names (e.g. haswell), to step down from a level that misbehaves.
def _load_cpu_backends() -> None:
    # The libggml libllama linked (by its SONAME): the wheel holds copies, not links, under other names,
    # and opening one of those would load a second ggml with a registry of its own.
    ggml = ctypes.CDLL("libggml.so.0", mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    if ggml.ggml_backend_reg_count() != 0:
        return
    variant = os.environ.get("SHOPINTENT_CPU_VARIANT")
    if not variant:
        ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
        ggml.ggml_backend_load_all_from_path(str(_base_path).encode())
        return
    path = _base_path / f"libggml-cpu-{variant}.so"
    known = sorted(p.name[len("libggml-cpu-"):-3] for p in _base_path.glob("libggml-cpu-*.so"))
    if not path.is_file():
        raise RuntimeError(f"SHOPINTENT_CPU_VARIANT={variant!r}: not built; choose one of {', '.join(known)}")
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    if not ggml.ggml_backend_load(str(path).encode()):
        raise RuntimeError(f"SHOPINTENT_CPU_VARIANT={variant!r}: this CPU lacks instructions that variant needs")


_load_cpu_backends()
EOF
fi

printf '%s\nprofile=%s\n' "$(basename "$entry")" "$profile" > "$src/llama_cpp/shopintent-build.txt"
echo "patched $src for the '$profile' build"
