"""The GPTQ export's config repair (no torch or gptqmodel needed)."""

from __future__ import annotations


def test_gptq_config_keeps_only_per_layer_type_rope() -> None:
    """gptqmodel adds flat rope keys beside Gemma 3's per-layer-type ones; transformers 5.17 then
    failed to save the GPTQ checkpoint on the GPU machine."""
    from types import SimpleNamespace

    from training.gptq import per_layer_type_rope_only

    full = {"rope_theta": 1e6, "rope_type": "default"}
    sliding = {"rope_theta": 1e4, "rope_type": "default"}
    config = SimpleNamespace(
        layer_types=["sliding_attention", "full_attention"],
        rope_parameters={"full_attention": full, "sliding_attention": sliding, "rope_type": "default",
                         "rope_theta": {"global": 1e6, "local": 1e4}},
    )
    per_layer_type_rope_only(config)
    assert config.rope_parameters == {"full_attention": full, "sliding_attention": sliding}

    flat = SimpleNamespace(layer_types=None, rope_parameters={"rope_theta": 1e4, "rope_type": "default"})
    per_layer_type_rope_only(flat)  # a model without per-layer-type rope keeps its flat parameters
    assert flat.rope_parameters == {"rope_theta": 1e4, "rope_type": "default"}
