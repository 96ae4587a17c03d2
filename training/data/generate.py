"""Generate the multilingual cart-command dataset.

    python -m training.data.generate --config training/configs/data.yaml
    python -m training.data.generate --train-rows 64000 --out-dir data-64k   # make data-64k

Writes data/{train,val,test,dev}.jsonl and data/CARD.md. Deterministic for a given seed. The test
split draws only held-out templates and held-out product surface forms. The dev split draws its own
hand-written templates and forms (training/data/dev.py), new to the model like test's but not test's:
it is the split for choosing checkpoints and decoding settings.
"""

from __future__ import annotations

import argparse
import random
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.domain import ADD, LANGUAGES, OTHER, REMOVE, SHORT_NAMES
from training.config import load_config
from training.data import dev as dev_bank
from training.data.assistant import ASSISTANT, SHOP_NOT_CART
from training.data.card import write_card
from training.data.catalog_names import CATALOG_NAMES
from training.data.natural_frames import FRAMES, SIZE_FRAMES
from training.data.open_products import HELD_OUT, OPEN_PRODUCTS
from training.data.open_translations import TRANSLATIONS
from training.data.phrases import BANKS, EMOJI, Bank, is_held_out
from training.data.products import PRODUCTS, Product, SurfaceForm
from training.data.shopper_forms import SHOPPER_FORMS
from training.data.siblings import TRAIN_ONLY
from training.jsonl import write_jsonl

SPLITS = ("train", "val", "test", "dev")
FOREIGN = ("sr", "pt", "nl", "pl")  # assistant commands in languages the shop does not serve
_FRENCH_ELISION = re.compile(r"(\b)de ([aeiouyœéèêâîôûAEIOUYŒÉ])")
_SIZE = re.compile(r"\d+(?:[.,]\d+)?\s?(?:kg|g|ml|cl|l|L|m|cm|mm|GB|TB|W|V|mAh|kom|pcs|pack|er)?\b")


@dataclass
class DataConfig:
    seed: int = 13
    out_dir: str = "data"
    sizes: dict[str, int] = field(default_factory=lambda: {"train": 6000, "val": 600, "test": 1800, "dev": 900})
    languages: tuple[str, ...] = LANGUAGES
    intent_weights: dict[str, float] = field(
        default_factory=lambda: {ADD: 0.5, REMOVE: 0.3, OTHER: 0.2}
    )
    catalog_min: int = 3
    catalog_max: int = 20
    p_missing_product: float = 0.08  # the requested product is not in the catalog
    p_neighbours: float = 0.7  # add confusable products from the target's group
    p_sized_name: float = 0.4  # catalog lists "Name (size)" instead of "Name"
    p_english_form: float = 0.12  # code-switching: the English name inside another language
    p_catalog_form: float = 0.05  # the shopper copies the catalog string
    p_digits: float = 0.6  # quantity as digits rather than words
    p_opener: float = 0.2
    p_closer: float = 0.2
    p_typo: float = 0.15
    p_strip_diacritics: float = 0.15
    p_emoji: float = 0.07
    p_voice: float = 0.07
    p_case: float = 0.15
    # Test rows name the product in a held-out wording this often (else in a trained one), so the
    # report can show accuracy on unseen wordings and on seen ones separately (row tag "unseen_form").
    p_test_unseen_form: float = 0.5
    # Rows whose target is an open-vocabulary product (English name, no hand-written forms); in the
    # test split these are products held out of training entirely (tag "unseen_product").
    p_open_target: float = 0.15
    # Training rows name a trained open product in the sentence's language this often (else in
    # English), where training/data/open_translations.py has the word. Train split only.
    p_open_translated: float = 0.0
    # Dev rows target a product that has a dev wording this often (else any product).
    p_dev_product: float = 0.8
    # -- the real distribution (train split only: val, test and dev stay the same rows) ----------
    # Catalogs in the shop's own language (training/data/catalog_names.py), or mixed entry by entry.
    p_shop_catalog: float = 0.0
    p_mixed_catalog: float = 0.0
    # "other" rows that are assistant commands with cart verbs, or shop messages that are no cart
    # command (training/data/assistant.py); some in languages the shop does not serve.
    p_assistant: float = 0.0
    p_shop_not_cart: float = 0.0
    p_foreign_assistant: float = 0.25  # of assistant rows: Serbian, Portuguese, Dutch or Polish
    # Cart rows drawn from natural frames (reasons, politeness, mistakes, contrast, dozens and pairs,
    # the product's own number: natural_frames.py here) instead of the phrase banks.
    p_natural_frame: float = 0.0
    p_size_frame: float = 0.15  # of natural-frame rows whose target has a size: "the 500g yogurt"
    # Catalogs grown to long_catalog_min..long_catalog_max entries with other products.
    p_long_catalog: float = 0.0
    # Product names from the shopper-form banks (training/data/shopper_forms.py: colloquial, regional,
    # brand-generic, diminutive, accent-free and inflected) instead of products.py's trained forms.
    p_shopper_form: float = 0.0
    # The train split's rate of requested products that are not listed, where it differs from
    # p_missing_product (same single draw per row, so val, test and dev keep their rows).
    p_train_missing_product: float | None = None
    long_catalog_min: int = 40
    long_catalog_max: int = 200


@dataclass(frozen=True)
class Row:
    id: str
    language: str
    text: str
    catalog: list[str]
    intent: str
    product: str | None
    quantity: int | None
    tags: list[str] = field(default_factory=list)


def strip_diacritics(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D").replace("ß", "ss")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def add_typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: a swapped, dropped or doubled letter."""
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


class Generator:
    def __init__(self, config: DataConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.by_group: dict[str, list[Product]] = {}
        for product in PRODUCTS + OPEN_PRODUCTS:
            self.by_group.setdefault(product.group, []).append(product)
        seen_open = tuple(p for p in OPEN_PRODUCTS if p.name not in HELD_OUT)
        self.universe = {"train": PRODUCTS + seen_open, "val": PRODUCTS + seen_open, "test": PRODUCTS + OPEN_PRODUCTS,
                         "dev": PRODUCTS + seen_open}
        self.open_targets = {"train": seen_open, "val": seen_open,
                             "test": tuple(p for p in OPEN_PRODUCTS if p.name in HELD_OUT), "dev": seen_open}
        self.dev_products = tuple(p for p in PRODUCTS if p.name in dev_bank.FORMS)
        self.split_name = "train"
        self.seen_texts: set[str] = set()
        self.tags: set[str] = set()
        self.language = "en"
        self.catalog_language = "en"  # "en", the row's language, or "mixed"

    # -- catalog ---------------------------------------------------------------------------
    def catalog_name(self, product: Product, language: str = "en") -> str:
        names = product.catalog_names()
        if language != "en" and product.name in CATALOG_NAMES:
            names = list(CATALOG_NAMES[product.name][language])
        if len(names) > 1 and self.rng.random() < self.config.p_sized_name:
            return self.rng.choice(names[1:])
        return names[0]

    def make_catalog(self, target: Product, include_target: bool) -> tuple[list[str], dict[str, str]]:
        size = self.rng.randint(self.config.catalog_min, self.config.catalog_max)
        universe = self.universe[self.split_name]
        chosen: list[Product] = [target] if include_target else []
        if self.rng.random() < self.config.p_neighbours:
            neighbours = [p for p in self.by_group[target.group] if p is not target and p in universe]
            self.rng.shuffle(neighbours)
            chosen += neighbours[: max(1, size // 3)]
        pool = [p for p in universe if p is not target and p not in chosen]
        chosen += self.rng.sample(pool, max(0, size - len(chosen)))
        chosen = chosen[:size]
        if include_target and target not in chosen:
            chosen[0] = target
        self.rng.shuffle(chosen)
        names = {p.name: self.catalog_name(p, self.entry_language()) for p in chosen}
        if self.split_name == "train" and self.config.p_long_catalog and self.rng.random() < self.config.p_long_catalog:
            size = self.rng.randint(self.config.long_catalog_min, self.config.long_catalog_max)
            taken = {name.casefold() for name in names.values()}
            pool = [p for p in universe if p.name not in names and p.group != target.group and p is not target]
            for p in self.rng.sample(pool, min(len(pool), size - len(names))):
                name = self.catalog_name(p, self.entry_language())
                if name.casefold() not in taken:
                    taken.add(name.casefold())
                    names[p.name] = name
            entries = list(names.items())
            self.rng.shuffle(entries)
            names = dict(entries)
            self.tags.add("long_catalog")
        return list(names.values()), names

    def entry_language(self) -> str:
        """The language of the next catalog entry: the row's catalog language, or a coin per entry."""
        if self.catalog_language == "mixed":
            return self.rng.choice(("en", self.language))
        return self.catalog_language

    def choose_catalog_language(self, language: str) -> str:
        if self.split_name != "train" or language == "en" or not (
                self.config.p_shop_catalog or self.config.p_mixed_catalog):  # no draw: old rows stay
            return "en"
        roll = self.rng.random()
        if roll < self.config.p_shop_catalog:
            self.tags.add("shop_catalog")
            return language
        if roll < self.config.p_shop_catalog + self.config.p_mixed_catalog:
            self.tags.add("mixed_catalog")
            return "mixed"
        return "en"

    # -- surface forms -----------------------------------------------------------------------
    def surface(self, product: Product, language: str, split: str, quantity: int, catalog_name: str | None) -> str:
        roll = self.rng.random()
        if catalog_name and roll < self.config.p_catalog_form:
            return catalog_name
        form_language = language
        if language != "en" and roll < self.config.p_catalog_form + self.config.p_english_form:
            form_language = "en"
            self.tags.add("code_switch")
        unseen = split in ("test", "dev") and self.rng.random() < self.config.p_test_unseen_form
        if split == "dev" and product.name not in dev_bank.FORMS:
            unseen = False
        if unseen:
            self.tags.add("unseen_form")
        if unseen and split == "dev":
            forms: tuple[SurfaceForm, ...] = (dev_bank.FORMS[product.name][form_language],)
        else:
            forms = product.test_forms(form_language) if unseen else product.train_forms(form_language)
        if product.group.startswith("open-"):  # derived English forms: nothing to hold out
            forms = product.forms[form_language]
            self.tags.discard("unseen_form")
            translated = TRANSLATIONS.get(product.name, {}).get(form_language)
            p_translated = self.config.p_open_translated if split == "train" else 0.0
            if translated and p_translated and self.rng.random() < p_translated:
                forms = (translated,)
        elif (split == "train" and self.config.p_shopper_form and form_language in SHOPPER_FORMS
              and self.rng.random() < self.config.p_shopper_form):
            forms = SHOPPER_FORMS[form_language][product.name]
            self.tags.add("shopper_form")
        form: SurfaceForm = self.rng.choice(forms)
        return form.for_quantity(quantity)

    def quantity_words(self, bank: Bank, quantity: int, before_product: bool) -> str:
        if quantity > 20 or self.rng.random() < self.config.p_digits:
            return str(quantity)
        words = bank.numbers[quantity]
        if not before_product:  # "a couple of" only reads well right before the product
            words = tuple(w for w in words if len(w.split()) == 1) or (str(quantity),)
        return self.rng.choice(words)

    def draw_quantity(self) -> int:
        roll = self.rng.random()
        if roll < 0.3:
            return 1
        if roll < 0.75:
            return self.rng.randint(2, 5)
        if roll < 0.95:
            return self.rng.randint(6, 20)
        return self.rng.randint(21, 100)

    # -- rows ------------------------------------------------------------------------------
    def templates(self, language: str, intent: str, split: str) -> list[str]:
        if split == "dev":
            return list(dev_bank.TEMPLATES[language][SHORT_NAMES[intent]])
        bank = BANKS[language]
        pool = {ADD: bank.add, REMOVE: bank.remove, OTHER: bank.other}[intent]
        held = split == "test"
        chosen = [t for i, t in enumerate(pool) if is_held_out(i) == held]
        if not held:
            chosen += TRAIN_ONLY[language][SHORT_NAMES[intent]]
        return chosen

    def fill(self, template: str, language: str, split: str, target: Product, catalog: dict[str, str],
             quantity: int, fixed_quantity: bool = False, size: str = "") -> str:
        bank = BANKS[language]
        slots: dict[str, str] = {"cart": self.rng.choice(bank.carts)}
        if "{n2}" in template:
            wrong = quantity
            while wrong == quantity:
                wrong = self.rng.randint(1, 9)
            slots["n2"] = self.quantity_words(bank, wrong, "{n2} {p}" in template)
            self.tags.add("correction")
        if "x{n}" in template or "{n}x" in template:  # "2x milk", "milk x2": digits only
            slots["n"] = str(quantity)
        elif "{n}" in template:
            slots["n"] = self.quantity_words(bank, quantity, "{n} {p}" in template)
        slots["d"] = str(quantity)
        slots["size"] = size
        product_quantity = quantity if ("{n}" in template or "{d}" in template or fixed_quantity) else 1
        if "{p}" in template and product_quantity == 1 and ("how many" in template or "koliko" in template):
            product_quantity = 2
        slots["p"] = self.surface(target, language, split, product_quantity, catalog.get(target.name))
        if self.rng.random() < self.config.p_typo:
            words = slots["p"].split(" ")
            j = self.rng.randrange(len(words))
            words[j] = add_typo(self.rng, words[j])
            slots["p"] = " ".join(words)
            self.tags.add("typo")
        if "{p2}" in template:
            universe = self.universe[split]
            others = [p for p in universe if p.name in catalog and p is not target]
            if not others or self.rng.random() < 0.4:
                others = [p for p in universe if p is not target]
            distractor = self.rng.choice(others)
            target_tags = set(self.tags)
            slots["p2"] = self.surface(distractor, language, split, 1, None)
            self.tags = target_tags | {"distractor"}  # the tags describe the target's wording
        return template.format(**slots)

    def noise(self, text: str, language: str) -> str:
        bank, cfg, rng = BANKS[language], self.config, self.rng
        if rng.random() < cfg.p_opener:
            text = f"{rng.choice(bank.openers)} {text}"
        if rng.random() < cfg.p_closer:
            text = f"{text} {rng.choice(bank.closers)}"
        if rng.random() < cfg.p_voice:
            words = re.sub(r"[?!.,;:¿¡]", "", text).split()
            words.insert(rng.randrange(len(words) + 1), rng.choice(bank.fillers))
            text = " ".join(words)
            self.tags.add("voice")
        if language != "en" and rng.random() < cfg.p_strip_diacritics:
            text = strip_diacritics(text)
            self.tags.add("no_diacritics")
        roll = rng.random()
        if roll < cfg.p_case / 3:
            text = text.upper()
        elif roll < cfg.p_case:
            text = text[:1].upper() + text[1:]
        if rng.random() < cfg.p_emoji:
            text = f"{text} {rng.choice(EMOJI)}"
            self.tags.add("emoji")
        return text

    def row(self, split: str, index: int) -> Row:
        cfg, rng = self.config, self.rng
        self.tags = set()
        language = cfg.languages[index % len(cfg.languages)]
        intent = rng.choices(list(cfg.intent_weights), weights=list(cfg.intent_weights.values()))[0]
        self.split_name = split
        self.language = language
        self.catalog_language = "en"
        if rng.random() < cfg.p_open_target:
            target = rng.choice(self.open_targets[split])
            if split == "test":
                self.tags.add("unseen_product")
        elif split == "dev" and rng.random() < cfg.p_dev_product:
            target = rng.choice(self.dev_products)
        else:
            target = rng.choice(PRODUCTS)
        p_missing = cfg.p_missing_product
        if split == "train" and cfg.p_train_missing_product is not None:
            p_missing = cfg.p_train_missing_product
        missing = intent != OTHER and rng.random() < p_missing
        include_target = not missing and (intent != OTHER or rng.random() < 0.7)
        if split == "train":  # drawn only for train, so the other splits keep their rows
            self.catalog_language = self.choose_catalog_language(language)
        catalog_list, catalog = self.make_catalog(target, include_target)
        quantity = self.draw_quantity()
        special = self.train_special(language, intent, target, catalog, quantity) if split == "train" else None
        if special is not None:
            text, quantity, language = special
        else:
            template = rng.choice(self.templates(language, intent, split))
            if "{n}" not in template and "{d}" not in template:
                quantity = 1
            text = self.noise(self.fill(template, language, split, target, catalog, quantity), language)
        if missing:
            self.tags.add("missing_product")
        if split == "test":
            self.tags.add("held_out_template")
        if split == "dev":
            self.tags.add("dev_template")
        return Row(
            id=f"{split}-{index:05d}",
            language=language,
            text=text,
            catalog=catalog_list,
            intent=intent,
            product=None if intent == OTHER or missing else catalog[target.name],
            quantity=None if intent == OTHER else quantity,
            tags=sorted(self.tags),
        )

    def train_special(self, language: str, intent: str, target: Product, catalog: dict[str, str],
                      quantity: int) -> tuple[str, int, str] | None:
        """A training row from the natural banks: (text, quantity, language), or None for the phrase banks."""
        cfg, rng = self.config, self.rng
        if intent == OTHER:
            if not (cfg.p_assistant or cfg.p_shop_not_cart):  # no draw: old rows stay
                return None
            roll = rng.random()
            if roll < cfg.p_assistant:
                if rng.random() < cfg.p_foreign_assistant:
                    language = rng.choice(FOREIGN)
                self.tags.add("assistant")
                text = rng.choice(ASSISTANT[language])
            elif roll < cfg.p_assistant + cfg.p_shop_not_cart:
                if rng.random() < cfg.p_foreign_assistant / 2:
                    language = rng.choice(FOREIGN)
                self.tags.add("shop_not_cart")
                text = rng.choice(SHOP_NOT_CART[language])
                if "{item}" in text:
                    form_language = language if language in FRAMES else "en"
                    item = self.surface(target, form_language, "train", 1, catalog.get(target.name))
                    text = text.replace("{item}", item)
            else:
                return None
            return (self.noise(text, language) if language in BANKS else text), 1, language
        if not cfg.p_natural_frame or rng.random() >= cfg.p_natural_frame:
            return None
        self.tags.add("natural_frame")
        short = SHORT_NAMES[intent]
        sized = _SIZE.search(catalog.get(target.name, "")) if target.name in catalog else None
        if sized and rng.random() < cfg.p_size_frame:
            self.tags.add("size_frame")
            template = rng.choice(SIZE_FRAMES[language][short])
            text = self.fill(template, language, "train", target, catalog, 1, size=sized.group(0).strip())
            return self.noise(text, language), 1, language
        template, fixed = rng.choice(FRAMES[language][short])
        if fixed is not None:
            self.tags.add("quantity_word")
            quantity = fixed
        elif "{n}" not in template:
            quantity = 1
        text = self.fill(template, language, "train", target, catalog, quantity, fixed_quantity=fixed is not None)
        if language == "fr":  # "douzaine de oeufs" -> "douzaine d'oeufs"
            text = _FRENCH_ELISION.sub(r"\1d'\2", text)
        return self.noise(text, language), quantity, language

    def split(self, name: str) -> Iterator[Row]:
        for index in range(self.config.sizes[name]):
            for _attempt in range(50):
                row = self.row(name, index)
                key = row.text.casefold()
                if key not in self.seen_texts:
                    self.seen_texts.add(key)
                    yield row
                    break
            else:
                raise RuntimeError(f"could not draw a fresh text for {name} row {index}")


def generate(config: DataConfig) -> dict[str, list[Row]]:
    generator = Generator(config)
    # Test first: its held-out texts claim their strings before train can collide with them.
    order = ("test", "val", "train")
    splits = {name: list(generator.split(name)) for name in order}
    if config.sizes.get("dev", 0):
        # Last, from its own stream, so adding it left the other splits' rows unchanged.
        generator.rng = random.Random(config.seed * 1000 + 7)
        splits["dev"] = list(generator.split("dev"))
    return {name: splits[name] for name in SPLITS if name in splits}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="training/configs/data.yaml")
    parser.add_argument("--out-dir", help="override the config's out_dir")
    parser.add_argument("--train-rows", type=int,
                        help="override the train size; val and test are drawn first, so they stay the same rows")
    parser.add_argument("--p-open-translated", type=float,
                        help="override p_open_translated (train split only; val, test and dev stay the same rows)")
    args = parser.parse_args(argv)
    config = load_config(DataConfig, args.config)
    if args.out_dir:
        config.out_dir = args.out_dir
    if args.train_rows:
        config.sizes = {**config.sizes, "train": args.train_rows}
    if args.p_open_translated is not None:
        config.p_open_translated = args.p_open_translated
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    splits = generate(config)
    for name, rows in splits.items():
        write_jsonl(out / f"{name}.jsonl", (asdict(row) for row in rows))
    write_card(out / "CARD.md", splits, config)
    counts = ", ".join(f"{name} {len(rows)}" for name, rows in splits.items())
    print(f"wrote {out}/{{{','.join(splits)}}}.jsonl ({counts}) and {out}/CARD.md")


if __name__ == "__main__":
    main()
