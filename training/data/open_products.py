"""Open-vocabulary products: English catalog names with no hand-written translations.

Real catalogs list products the model never saw. These names teach the general skill (match the
shopper's words to the catalog string) rather than a memorised product list: shoppers name them
the way the catalog does, shortened, pluralised or misspelled, in any language's sentence.
Every third name is held out: it appears only in the test split (tag ``unseen_product``).
"""

from __future__ import annotations

from app.domain import LANGUAGES
from training.data.products import Product, SurfaceForm

_NAMES = """
Quinoa|Chia Seeds|Basmati Rice|Sourdough Bread|Bagels|Tortilla Wraps|Hummus|Guacamole|Salsa Dip|Pesto
Maple Syrup|Agave Syrup|Brown Sugar|Baking Soda|Yeast|Vanilla Extract|Cinnamon|Black Pepper|Paprika Powder|Curry Paste
Soy Sauce|Sriracha|BBQ Sauce|Balsamic Vinegar|Apple Cider Vinegar|Coconut Milk|Coconut Oil|Ghee|Tofu|Tempeh
Kimchi|Sauerkraut|Pickles|Olives|Capers|Sun-Dried Tomatoes|Canned Corn|Kidney Beans|Chickpeas|Lentils
Couscous|Ramen Noodles|Rice Noodles|Lasagne Sheets|Gnocchi|Ravioli|Fish Fingers|Chicken Nuggets|Veggie Burger|Falafel
Feta|Brie|Gouda|Halloumi|Ricotta|Mascarpone|Sour Cream|Whipped Cream|Kefir|Buttermilk
Kiwi|Mango|Pineapple|Papaya|Pomegranate|Figs|Dates|Raisins|Cashews|Walnuts
Pistachios|Hazelnuts|Pumpkin Seeds|Popcorn|Pretzels|Rice Cakes|Protein Bar|Protein Powder|Gummy Bears|Marshmallows
Kombucha|Ginger Ale|Tonic Water|Espresso Pods|Chai Tea|Herbal Tea|Hot Chocolate|Sports Drink|Prosecco|Cider
Mouthwash|Lip Balm|Face Wash|Hand Cream|Nail Polish|Makeup Remover|Dry Shampoo|Hair Gel|Bath Bombs|Loofah
Glass Cleaner|Oven Cleaner|Stain Remover|Lint Roller|Clothes Pegs|Ironing Board|Laundry Basket|Drying Rack|Mop|Broom
Dustpan|Rubber Gloves|Microfiber Cloths|Air Freshener|Mosquito Repellent|Smoke Detector|Door Mat|Shower Curtain|Bath Mat|Toilet Brush
Gaming Mouse|Mechanical Keyboard|Mouse Pad|Laptop Stand|Ring Light|Tripod|SD Card|External Hard Drive|Wi-Fi Router|Smart Plug
Car Charger|Wireless Charger|Earphones|Soundbar|E-Reader|Fitness Tracker|Action Camera|Drone|Game Controller|VR Headset
Leggings|Cardigan|Blazer|Pajamas|Swimsuit|Bikini|Tank Top|Polo Shirt|Denim Jacket|Beanie
Belt|Wallet|Tote Bag|Suitcase|Hiking Boots|Slippers|Ankle Socks|Bow Tie|Cufflinks|Raincoat
"""

NAMES: tuple[str, ...] = tuple(n.strip() for line in _NAMES.strip().splitlines() for n in line.split("|") if n.strip())


def _plural(name: str) -> str:
    last = name.split()[-1]
    if last.endswith(("s", "x", "z")):
        return name
    if last.endswith(("ch", "sh")):
        return name + "es"
    if last.endswith("y") and len(last) > 1 and last[-2] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


def _forms(name: str) -> tuple[SurfaceForm, ...]:
    lower = name.lower()
    forms = [SurfaceForm(lower, _plural(lower))]
    words = lower.split()
    if len(words) > 1:  # "the ramen" for "Ramen Noodles", "the charger" for "Wireless Charger"
        short = words[-1] if len(words[-1]) > 3 else words[0]
        forms.append(SurfaceForm(short, _plural(short)))
    return tuple(forms)


OPEN_PRODUCTS: tuple[Product, ...] = tuple(
    Product(name=name, sizes=(), group=f"open-{i % 16}", forms={lang: _forms(name) for lang in LANGUAGES})
    for i, name in enumerate(NAMES)
)
HELD_OUT = frozenset(p.name for i, p in enumerate(OPEN_PRODUCTS) if i % 3 == 2)
