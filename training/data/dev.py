"""The dev split's own wordings: product names and sentences that neither training nor test uses.

Val is drawn from training's templates and product forms, so it rewards fitting them: a model
trained longer scored higher on val and lower on test. Choosing a checkpoint or the decoding bias
needs rows that are as new to the model as test's rows but are not test's rows. These are
hand-written for that: one more colloquial form per language for a subset of products, and
templates per language and intent. The data tests check that none of them occurs in the
training or test banks.
"""

from __future__ import annotations

from app.domain import LANGUAGES
from training.data.products import SurfaceForm, parse_form_table

# Catalog name -> one form per language, "singular/plural" as in products.py.
_FORMS = """
Apples | granny smith/granny smiths | zelenu jabuku/zelenih jabuka | manzana roja/manzanas rojas | Tafelapfel/Tafeläpfel | pomme golden/pommes golden | mela golden/mele golden
Bananas | bunch of bananas/bunches of bananas | bananicu/bananica | guineo/guineos | Obstbanane/Obstbananen | régime de bananes/régimes de bananes | casco di banane/caschi di banane
Grapes | bunch of grapes/bunches of grapes | crno grožđe/crnog grožđa | racimo de uvas/racimos de uvas | Tafeltrauben/Tafeltrauben | raisin blanc/raisins blancs | uva bianca/uva bianca
Tomatoes | roma tomato/roma tomatoes | pomidor/pomidora | tomate pera/tomates pera | Strauchtomate/Strauchtomaten | tomate grappe/tomates grappes | pomodoro ramato/pomodori ramati
Potatoes | tater/taters | kompir/kompira | patata nueva/patatas nuevas | Speisekartoffel/Speisekartoffeln | pomme de terre nouvelle/pommes de terre nouvelles | patata novella/patate novelle
Onions | red onion/red onions | kapulu/kapula | cebolla morada/cebollas moradas | rote Zwiebel/rote Zwiebeln | oignon rouge/oignons rouges | cipolla rossa/cipolle rosse
Strawberries | strawberry punnet/strawberry punnets | šumske jagode/šumskih jagoda | fresones/fresones | Erdbeerschale/Erdbeerschalen | fraises gariguette/fraises gariguette | cestino di fragole/cestini di fragole
Milk | semi skimmed milk/semi skimmed milk | svježe mlijeko/svježeg mlijeka | leche semidesnatada/leches semidesnatadas | Frischmilch/Frischmilch | lait demi-écrémé/laits demi-écrémés | latte fresco/latte fresco
Butter | unsalted butter/unsalted butter | kockicu maslaca/kockica maslaca | mantequilla sin sal/mantequillas sin sal | Süßrahmbutter/Süßrahmbutter | beurre doux/beurres doux | burro fresco/burro fresco
Eggs | free range egg/free range eggs | domaće jaje/domaćih jaja | docena de huevos/docenas de huevos | Freilandei/Freilandeier | douzaine d'œufs/douzaines d'œufs | uovo fresco/uova fresche
Yogurt | yoghurt pot/yoghurt pots | čašicu jogurta/čašica jogurta | yogur natural/yogures naturales | Naturjoghurt/Naturjoghurts | yaourt nature/yaourts nature | yogurt bianco/yogurt bianchi
White Bread | sliced bread/sliced bread | štrucu kruha/štruca kruha | barra de pan/barras de pan | Weißbrotlaib/Weißbrotlaibe | baguette/baguettes | pagnotta/pagnotte
Rice | long grain rice/long grain rice | rižu dugog zrna/riže dugog zrna | arroz largo/arroces largos | Parboiled-Reis/Parboiled-Reis | riz long/riz longs | riso parboiled/riso parboiled
Sugar | granulated sugar/granulated sugar | kristal šećer/kristal šećera | azúcar refinado/azúcares refinados | Haushaltszucker/Haushaltszucker | sucre cristal/sucres cristal | zucchero semolato/zuccheri semolati
Olive Oil | extra virgin olive oil/extra virgin olive oils | djevičansko maslinovo ulje/djevičanskih maslinovih ulja | aceite de oliva virgen extra/aceites de oliva virgen extra | natives Olivenöl/native Olivenöle | huile d'olive vierge/huiles d'olive vierges | olio extravergine/oli extravergini
Ground Coffee | filter coffee/filter coffees | kavu za filter/kava za filter | café para cafetera/cafés para cafetera | Filterkaffee/Filterkaffees | café filtre/cafés filtre | caffè per moka/caffè per moka
Green Tea | sencha/senchas | čaj od zelenog lišća/čajeva od zelenog lišća | té matcha/tés matcha | Sencha-Tee/Sencha-Tees | thé matcha/thés matcha | tè matcha/tè matcha
Orange Juice | fresh orange juice/fresh orange juices | džus od naranče/džusa od naranče | zumo natural de naranja/zumos naturales de naranja | Orangendirektsaft/Orangendirektsäfte | orange pressée/oranges pressées | succo all'arancia/succhi all'arancia
Apple Juice | cloudy apple juice/cloudy apple juices | džus od jabuke/džusa od jabuke | zumo de manzana natural/zumos de manzana natural | naturtrüber Apfelsaft/naturtrübe Apfelsäfte | jus de pommes/jus de pommes | succo di mele/succhi di mele
Chicken Breast | chicken fillet/chicken fillets | pileći file/pilećih fileta | filete de pollo/filetes de pollo | Hähnchenfilet/Hähnchenfilets | filet de poulet/filets de poulet | filetto di pollo/filetti di pollo
Ground Beef | beef mince/beef mince | faširano meso/faširanog mesa | carne picada de ternera/carnes picadas de ternera | Gehacktes/Gehacktes | steak haché/steaks hachés | carne trita/carni trite
Ice Cream | tub of ice cream/tubs of ice cream | kutiju sladoleda/kutija sladoleda | tarrina de helado/tarrinas de helado | Speiseeis/Speiseeis | pot de glace/pots de glace | vaschetta di gelato/vaschette di gelato
Potato Chips | crisp packet/crisp packets | čipseve/čipseva | papas fritas de bolsa/papas fritas de bolsa | Chipstüte/Chipstüten | chips nature/chips nature | patatine in busta/patatine in busta
Beer | lager/lagers | pivo u limenci/piva u limenci | cervecita/cervecitas | Pils/Pils | bière blonde/bières blondes | birra chiara/birre chiare
Red Wine | merlot/merlots | butelju crnog vina/butelja crnog vina | vino rojo/vinos rojos | Merlot/Merlots | bouteille de rouge/bouteilles de rouge | bottiglia di rosso/bottiglie di rosso
Sparkling Water | seltzer/seltzers | kiselu vodu/kiselih voda | agua gasificada/aguas gasificadas | Wasser mit Kohlensäure/Wasser mit Kohlensäure | eau minérale gazeuse/eaux minérales gazeuses | acqua con le bollicine/acque con le bollicine
Toilet Paper | bog roll/bog rolls | wc rolu/wc rola | rollo de papel higiénico/rollos de papel higiénico | Klorolle/Klorollen | rouleau de papier toilette/rouleaux de papier toilette | rotolo di carta igienica/rotoli di carta igienica
Toothpaste | tube of toothpaste/tubes of toothpaste | kremu za zube/krema za zube | crema dental/cremas dentales | Zahnpastatube/Zahnpastatuben | tube de dentifrice/tubes de dentifrice | tubetto di dentifricio/tubetti di dentifricio
Shampoo | hair wash/hair washes | šampončić/šampončića | champú anticaspa/champús anticaspa | Haarwaschmittel/Haarwaschmittel | shampoing doux/shampoings doux | shampoo per capelli/shampoo per capelli
Laundry Detergent | laundry pod/laundry pods | deterdžent/deterdženta | jabón de ropa/jabones de ropa | Vollwaschmittel/Vollwaschmittel | lessive liquide/lessives liquides | detersivo lavatrice/detersivi lavatrice
Trash Bags | rubbish bag/rubbish bags | kesu za smeće/kesa za smeće | bolsa para la basura/bolsas para la basura | Abfallbeutel/Abfallbeutel | sac à ordures/sacs à ordures | sacchetto per rifiuti/sacchetti per rifiuti
Phone Charger | usb-c charger/usb-c chargers | punjač za telefon/punjača za telefon | cargador del celular/cargadores del celular | Netzteil/Netzteile | chargeur portable/chargeurs portables | caricatore/caricatori
Light Bulbs | lightbulb/lightbulbs | sijalicu/sijalica | bombillo/bombillos | Leuchtmittel/Leuchtmittel | lampe led/lampes led | lampadina a led/lampadine a led
Diapers | pampers/pampers | pampersicu/pampersica | pañalitos/pañalitos | Pampers/Pampers | couches bébé/couches bébé | pannolini per bambini/pannolini per bambini
Dumbbells | hand weight/hand weights | utežić/utežića | pesas de mano/pesas de mano | Gewichte/Gewichte | poids/poids | pesetto/pesetti
Football | footy/footies | balun/baluna | pelota de fútbol/pelotas de fútbol | Lederball/Lederbälle | ballon de football/ballons de football | palla da calcio/palle da calcio
Sunscreen | spf lotion/spf lotions | kremu za sunce/krema za sunce | bloqueador solar/bloqueadores solares | Sonnenmilch/Sonnenmilch | protection solaire/protections solaires | solare/solari
Cola | coca cola/coca colas | koka-kolu/koka-kola | refresco de cola/refrescos de cola | Colaflasche/Colaflaschen | soda au cola/sodas au cola | coca cola/coca cole
"""

TEMPLATES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "add": ("could i grab {n} {p}", "go ahead and add {n} {p}", "need {n} {p} asap", "chuck {n} {p} in",
                "order {n} {p} for me", "{n} x {p} into the {cart} thanks", "add a {p} too"),
        "remove": ("scrap the {p}", "drop {n} {p} from my {cart}", "on second thought, ditch the {p}",
                   "lose {n} of the {p}", "no more {p} in the {cart} please"),
        "other": ("is {p} on sale?", "when would {p} get here if i order today?", "does {p} come in other sizes?",
                  "show me my {cart}", "what goes well with {p}?", "my {p} arrived broken, what now"),
    },
    "hr": {
        "add": ("stavi mi {n} {p}", "može {n} {p}", "naruči {n} {p}", "naručio bih {n} {p}",
                "bi li mi mogao dodati {n} {p}", "trebat ću {n} {p}", "stavi i {p}"),
        "remove": ("izvadi mi {p}", "makni mi {n} {p}", "ne trebam {p}, izbriši", "odustajem od {n} {p}",
                   "izbaci mi {p} iz košarice"),
        "other": ("koliko je {p}?", "ima li {p} u drugoj veličini?", "pokaži mi košaricu", "što ide uz {p}?",
                  "je li {p} na akciji?", "stigao mi je {p} razbijen"),
    },
    "es": {
        "add": ("pásame {n} {p}", "voy a querer {n} {p}", "échame {n} {p}", "apúntame {n} {p}",
                "súmale {n} {p}", "mete {n} {p} en el {cart} porfa", "añade también {p}"),
        "remove": ("sácame {p} del carrito", "anula {n} {p}", "ya no quiero {p}, quítalo",
                   "borra {n} {p} del pedido", "fuera {p} del {cart}"),
        "other": ("¿cuándo llegaría {p} si lo pido hoy?", "¿hay {p} en oferta?", "enséñame el carrito",
                  "¿qué combina con {p}?", "¿tienen {p} en otro tamaño?", "me llegó {p} roto"),
    },
    "de": {
        "add": ("pack mir {n} {p} rein", "ich nehm noch {n} {p}", "noch {n} {p} bitte", "bestell mir {n} {p}",
                "{n} {p} in den Warenkorb", "leg {n} {p} dazu", "auch {p} bitte"),
        "remove": ("nimm {p} raus", "{n} {p} bitte wieder raus", "{p} brauch ich doch nicht",
                   "entferne {n} {p} aus der Bestellung", "{p} kannst du rausnehmen"),
        "other": ("gibt es {p} im Angebot?", "wann käme {p} an, wenn ich heute bestelle?", "zeig mir den Warenkorb",
                  "was passt zu {p}?", "gibt es {p} in einer anderen Größe?", "{p} kam kaputt an"),
    },
    "fr": {
        "add": ("mets-moi {n} {p}", "j'aimerais {n} {p}", "glisse {n} {p} dans le panier", "commande {n} {p}",
                "je prends {n} {p} stp", "{n} {p} dans mon panier merci", "ajoute aussi {p}"),
        "remove": ("enlève-moi {p}", "efface {n} {p}", "finalement pas de {p}, enlève",
                   "ôte {n} {p} de mon panier", "vire {p} du panier"),
        "other": ("{p} est en promo ?", "{p} arriverait quand si je commande aujourd'hui ?", "montre-moi mon panier",
                  "qu'est-ce qui va avec {p} ?", "vous avez {p} dans une autre taille ?", "{p} est arrivé cassé"),
    },
    "it": {
        "add": ("mettimi {n} {p}", "buttami dentro {n} {p}", "ordina {n} {p}", "segnami {n} {p}",
                "mi ci vogliono {n} {p}", "{n} {p} nel carrello grazie", "aggiungi pure {p}"),
        "remove": ("toglimi {p}", "sottrai {n} {p} dal carrello", "niente più {p}, toglilo", "rimuovi {n} {p} dall'ordine",
                   "leva {p} dal carrello"),
        "other": ("{p} è in offerta?", "quando arriverebbe {p} se ordino oggi?", "fammi vedere il carrello",
                  "cosa si abbina a {p}?", "avete {p} in un'altra misura?", "{p} è arrivato rotto"),
    },
}


FORMS: dict[str, dict[str, SurfaceForm]] = parse_form_table(_FORMS, LANGUAGES, "dev form")
