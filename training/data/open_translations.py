"""How shoppers name the trained open-vocabulary products in their own language (training only).

Without these, an open product is only ever named in English (its catalog string, shortened or
pluralised), so training teaches copying the catalog, never matching a foreign word to an English
entry beyond the ~200 hand-described products. Real shoppers say "Kichererbsen" or "slanutak", not
"chickpeas". These forms are used only in the train split, so val, test and dev rows are unchanged;
test's held-out open products have none (they stay unseen).

Each row: ``Catalog Name | hr | es | de | fr | it``, a form as ``singular/plural`` (Croatian: the
accusative, and the genitive plural that follows a number).
"""

from __future__ import annotations

from training.data.products import SurfaceForm, parse_form_table

_TABLE = """
Quinoa | kvinoju/kvinoje | quinoa/quinoas | Quinoa/Quinoa | quinoa/quinoas | quinoa/quinoa
Chia Seeds | chia sjemenke/chia sjemenki | semillas de chía/semillas de chía | Chiasamen/Chiasamen | graines de chia/graines de chia | semi di chia/semi di chia
Sourdough Bread | kruh od kiselog tijesta/kruhova od kiselog tijesta | pan de masa madre/panes de masa madre | Sauerteigbrot/Sauerteigbrote | pain au levain/pains au levain | pane a lievitazione naturale/pani a lievitazione naturale
Bagels | bagel/bagela | bagel/bagels | Bagel/Bagels | bagel/bagels | bagel/bagel
Hummus | humus/humusa | hummus/hummus | Hummus/Hummus | houmous/houmous | hummus/hummus
Guacamole | guacamole/guacamola | guacamole/guacamoles | Guacamole/Guacamole | guacamole/guacamoles | guacamole/guacamole
Pesto | pesto/pesta | pesto/pestos | Pesto/Pestos | pesto/pestos | pesto/pesti
Maple Syrup | javorov sirup/javorovih sirupa | sirope de arce/siropes de arce | Ahornsirup/Ahornsirupe | sirop d'érable/sirops d'érable | sciroppo d'acero/sciroppi d'acero
Brown Sugar | smeđi šećer/smeđeg šećera | azúcar moreno/azúcares morenos | brauner Zucker/braunen Zucker | sucre roux/sucres roux | zucchero di canna/zuccheri di canna
Baking Soda | sodu bikarbonu/soda bikarbona | bicarbonato/bicarbonatos | Natron/Natron | bicarbonate de soude/bicarbonates de soude | bicarbonato/bicarbonati
Vanilla Extract | ekstrakt vanilije/ekstrakta vanilije | extracto de vainilla/extractos de vainilla | Vanilleextrakt/Vanilleextrakte | extrait de vanille/extraits de vanille | estratto di vaniglia/estratti di vaniglia
Cinnamon | cimet/cimeta | canela/canelas | Zimt/Zimt | cannelle/cannelles | cannella/cannelle
Paprika Powder | mljevenu papriku/mljevenih paprika | pimentón/pimentones | Paprikapulver/Paprikapulver | paprika en poudre/paprikas en poudre | paprika in polvere/paprike in polvere
Curry Paste | curry pastu/curry pasta | pasta de curry/pastas de curry | Currypaste/Currypasten | pâte de curry/pâtes de curry | pasta di curry/paste di curry
Sriracha | sriracha umak/sriracha umaka | salsa sriracha/salsas sriracha | Sriracha-Soße/Sriracha-Soßen | sauce sriracha/sauces sriracha | salsa sriracha/salse sriracha
BBQ Sauce | roštilj umak/roštilj umaka | salsa barbacoa/salsas barbacoa | Grillsoße/Grillsoßen | sauce barbecue/sauces barbecue | salsa barbecue/salse barbecue
Apple Cider Vinegar | jabučni ocat/jabučnih octa | vinagre de manzana/vinagres de manzana | Apfelessig/Apfelessige | vinaigre de cidre/vinaigres de cidre | aceto di mele/aceti di mele
Coconut Milk | kokosovo mlijeko/kokosovih mlijeka | leche de coco/leches de coco | Kokosmilch/Kokosmilch | lait de coco/laits de coco | latte di cocco/latte di cocco
Ghee | pročišćeni maslac/pročišćenih maslaca | mantequilla clarificada/mantequillas clarificadas | Butterschmalz/Butterschmalz | beurre clarifié/beurres clarifiés | burro chiarificato/burri chiarificati
Tofu | tofu/tofua | tofu/tofus | Tofu/Tofus | tofu/tofus | tofu/tofu
Kimchi | kimchi/kimchija | kimchi/kimchis | Kimchi/Kimchis | kimchi/kimchis | kimchi/kimchi
Sauerkraut | kiseli kupus/kiselog kupusa | chucrut/chucruts | Sauerkraut/Sauerkraut | choucroute/choucroutes | crauti/crauti
Olives | masline/maslina | aceitunas/aceitunas | Oliven/Oliven | olives/olives | olive/olive
Capers | kapare/kapara | alcaparras/alcaparras | Kapern/Kapern | câpres/câpres | capperi/capperi
Canned Corn | kukuruz iz konzerve/kukuruza iz konzerve | maíz en lata/latas de maíz | Dosenmais/Dosenmais | maïs en boîte/boîtes de maïs | mais in scatola/scatole di mais
Kidney Beans | crveni grah/crvenog graha | alubias rojas/alubias rojas | Kidneybohnen/Kidneybohnen | haricots rouges/haricots rouges | fagioli rossi/fagioli rossi
Lentils | leću/leće | lentejas/lentejas | Linsen/Linsen | lentilles/lentilles | lenticchie/lenticchie
Couscous | kus-kus/kus-kusa | cuscús/cuscús | Couscous/Couscous | semoule/semoules | cuscus/cuscus
Rice Noodles | rižine rezance/rižinih rezanaca | fideos de arroz/fideos de arroz | Reisnudeln/Reisnudeln | nouilles de riz/nouilles de riz | spaghetti di riso/spaghetti di riso
Lasagne Sheets | listove za lazanje/listova za lazanje | placas de lasaña/placas de lasaña | Lasagneplatten/Lasagneplatten | feuilles de lasagne/feuilles de lasagne | sfoglie per lasagne/sfoglie per lasagne
Ravioli | raviole/raviola | raviolis/raviolis | Ravioli/Ravioli | raviolis/raviolis | ravioli/ravioli
Fish Fingers | riblje štapiće/ribljih štapića | palitos de pescado/palitos de pescado | Fischstäbchen/Fischstäbchen | bâtonnets de poisson/bâtonnets de poisson | bastoncini di pesce/bastoncini di pesce
Veggie Burger | vege burger/vege burgera | hamburguesa vegetal/hamburguesas vegetales | Gemüseburger/Gemüseburger | burger végétarien/burgers végétariens | burger vegetale/burger vegetali
Falafel | falafel/falafela | faláfel/faláfeles | Falafel/Falafel | falafel/falafels | falafel/falafel
Brie | brie sir/brie sireva | queso brie/quesos brie | Brie/Brie | brie/bries | brie/brie
Gouda | gaudu/gauda | queso gouda/quesos gouda | Gouda/Gouda | gouda/goudas | formaggio gouda/formaggi gouda
Ricotta | rikotu/rikota | requesón/requesones | Ricotta/Ricotta | ricotta/ricottas | ricotta/ricotte
Mascarpone | mascarpone/mascarponea | mascarpone/mascarpones | Mascarpone/Mascarpone | mascarpone/mascarpones | mascarpone/mascarpone
Whipped Cream | šlag/šlaga | nata montada/natas montadas | Schlagsahne/Schlagsahne | crème chantilly/crèmes chantilly | panna montata/panne montate
Kefir | kefir/kefira | kéfir/kéfires | Kefir/Kefir | kéfir/kéfirs | kefir/kefir
Kiwi | kivi/kivija | kiwi/kiwis | Kiwi/Kiwis | kiwi/kiwis | kiwi/kiwi
Mango | mango/manga | mango/mangos | Mango/Mangos | mangue/mangues | mango/manghi
Papaya | papaju/papaja | papaya/papayas | Papaya/Papayas | papaye/papayes | papaia/papaie
Pomegranate | šipak/šipaka | granada/granadas | Granatapfel/Granatäpfel | grenade/grenades | melograno/melograni
Dates | datulje/datulja | dátiles/dátiles | Datteln/Datteln | dattes/dattes | datteri/datteri
Raisins | grožđice/grožđica | pasas/pasas | Rosinen/Rosinen | raisins secs/raisins secs | uvetta/uvetta
Walnuts | orahe/oraha | nueces/nueces | Walnüsse/Walnüsse | noix/noix | noci/noci
Pistachios | pistacije/pistacija | pistachos/pistachos | Pistazien/Pistazien | pistaches/pistaches | pistacchi/pistacchi
Pumpkin Seeds | bučine sjemenke/bučinih sjemenki | pipas de calabaza/pipas de calabaza | Kürbiskerne/Kürbiskerne | graines de courge/graines de courge | semi di zucca/semi di zucca
Popcorn | kokice/kokica | palomitas/palomitas | Popcorn/Popcorn | pop-corn/pop-corn | popcorn/popcorn
Rice Cakes | rižine krekere/rižinih krekera | tortitas de arroz/tortitas de arroz | Reiswaffeln/Reiswaffeln | galettes de riz/galettes de riz | gallette di riso/gallette di riso
Protein Bar | proteinsku pločicu/proteinskih pločica | barrita de proteínas/barritas de proteínas | Proteinriegel/Proteinriegel | barre protéinée/barres protéinées | barretta proteica/barrette proteiche
Gummy Bears | gumene bombone/gumenih bombona | ositos de goma/ositos de goma | Gummibärchen/Gummibärchen | oursons en gélatine/oursons en gélatine | orsetti gommosi/orsetti gommosi
Marshmallows | sljez bombone/sljez bombona | nubes/nubes | Marshmallows/Marshmallows | guimauves/guimauves | marshmallow/marshmallow
Ginger Ale | sok od đumbira/sokova od đumbira | refresco de jengibre/refrescos de jengibre | Ingwerlimonade/Ingwerlimonaden | soda au gingembre/sodas au gingembre | bibita allo zenzero/bibite allo zenzero
Tonic Water | tonic/tonica | tónica/tónicas | Tonicwater/Tonicwater | tonic/tonics | acqua tonica/acque toniche
Chai Tea | chai čaj/chai čajeva | té chai/tés chai | Chai-Tee/Chai-Tees | thé chaï/thés chaï | tè chai/tè chai
Herbal Tea | biljni čaj/biljnih čajeva | infusión/infusiones | Kräutertee/Kräutertees | tisane/tisanes | tisana/tisane
Sports Drink | sportski napitak/sportskih napitaka | bebida isotónica/bebidas isotónicas | Sportgetränk/Sportgetränke | boisson isotonique/boissons isotoniques | bevanda isotonica/bevande isotoniche
Prosecco | prošek/prošeka | prosecco/proseccos | Prosecco/Proseccos | prosecco/proseccos | prosecco/prosecchi
Mouthwash | vodicu za ispiranje usta/vodica za ispiranje usta | enjuague bucal/enjuagues bucales | Mundspülung/Mundspülungen | bain de bouche/bains de bouche | collutorio/collutori
Lip Balm | balzam za usne/balzama za usne | bálsamo labial/bálsamos labiales | Lippenbalsam/Lippenbalsame | baume à lèvres/baumes à lèvres | burrocacao/burrocacao
Hand Cream | kremu za ruke/krema za ruke | crema de manos/cremas de manos | Handcreme/Handcremes | crème pour les mains/crèmes pour les mains | crema mani/creme mani
Nail Polish | lak za nokte/lakova za nokte | esmalte de uñas/esmaltes de uñas | Nagellack/Nagellacke | vernis à ongles/vernis à ongles | smalto per unghie/smalti per unghie
Dry Shampoo | suhi šampon/suhih šampona | champú en seco/champús en seco | Trockenshampoo/Trockenshampoos | shampooing sec/shampooings secs | shampoo secco/shampoo secchi
Hair Gel | gel za kosu/gelova za kosu | gomina/gominas | Haargel/Haargele | gel coiffant/gels coiffants | gel per capelli/gel per capelli
Loofah | lufu/lufa | esponja vegetal/esponjas vegetales | Luffaschwamm/Luffaschwämme | éponge luffa/éponges luffa | spugna di luffa/spugne di luffa
Glass Cleaner | sredstvo za staklo/sredstava za staklo | limpiacristales/limpiacristales | Glasreiniger/Glasreiniger | nettoyant vitres/nettoyants vitres | detergente per vetri/detergenti per vetri
Stain Remover | odstranjivač mrlja/odstranjivača mrlja | quitamanchas/quitamanchas | Fleckentferner/Fleckentferner | détachant/détachants | smacchiatore/smacchiatori
Lint Roller | valjak za dlačice/valjaka za dlačice | rodillo quitapelusas/rodillos quitapelusas | Fusselrolle/Fusselrollen | rouleau anti-peluches/rouleaux anti-peluches | rullo levapelucchi/rulli levapelucchi
Ironing Board | dasku za glačanje/dasaka za glačanje | tabla de planchar/tablas de planchar | Bügelbrett/Bügelbretter | planche à repasser/planches à repasser | asse da stiro/assi da stiro
Laundry Basket | košaru za rublje/košara za rublje | cesto de la ropa/cestos de la ropa | Wäschekorb/Wäschekörbe | panier à linge/paniers à linge | cesto portabiancheria/cesti portabiancheria
Mop | mop/mopova | fregona/fregonas | Wischmopp/Wischmopps | serpillière/serpillières | mocio/moci
Broom | metlu/metli | escoba/escobas | Besen/Besen | balai/balais | scopa/scope
Rubber Gloves | gumene rukavice/gumenih rukavica | guantes de goma/guantes de goma | Gummihandschuhe/Gummihandschuhe | gants en caoutchouc/gants en caoutchouc | guanti di gomma/guanti di gomma
Microfiber Cloths | krpu od mikrofibre/krpa od mikrofibre | bayetas de microfibra/bayetas de microfibra | Mikrofasertücher/Mikrofasertücher | chiffons microfibre/chiffons microfibre | panni in microfibra/panni in microfibra
Mosquito Repellent | sprej protiv komaraca/spreja protiv komaraca | repelente de mosquitos/repelentes de mosquitos | Mückenspray/Mückensprays | anti-moustique/anti-moustiques | antizanzare/antizanzare
Smoke Detector | detektor dima/detektora dima | detector de humo/detectores de humo | Rauchmelder/Rauchmelder | détecteur de fumée/détecteurs de fumée | rilevatore di fumo/rilevatori di fumo
Shower Curtain | zavjesu za tuš/zavjesa za tuš | cortina de ducha/cortinas de ducha | Duschvorhang/Duschvorhänge | rideau de douche/rideaux de douche | tenda da doccia/tende da doccia
Bath Mat | kupaonski tepih/kupaonskih tepiha | alfombra de baño/alfombras de baño | Badematte/Badematten | tapis de bain/tapis de bain | tappetino da bagno/tappetini da bagno
Gaming Mouse | gaming miš/gaming miševa | ratón gaming/ratones gaming | Gaming-Maus/Gaming-Mäuse | souris gamer/souris gamer | mouse da gaming/mouse da gaming
Mechanical Keyboard | mehaničku tipkovnicu/mehaničkih tipkovnica | teclado mecánico/teclados mecánicos | mechanische Tastatur/mechanische Tastaturen | clavier mécanique/claviers mécaniques | tastiera meccanica/tastiere meccaniche
Laptop Stand | stalak za laptop/stalaka za laptop | soporte para portátil/soportes para portátil | Laptopständer/Laptopständer | support pour ordinateur portable/supports pour ordinateur portable | supporto per portatile/supporti per portatile
Ring Light | prstenasto svjetlo/prstenastih svjetala | aro de luz/aros de luz | Ringlicht/Ringlichter | anneau lumineux/anneaux lumineux | luce ad anello/luci ad anello
SD Card | memorijsku karticu/memorijskih kartica | tarjeta de memoria/tarjetas de memoria | Speicherkarte/Speicherkarten | carte mémoire/cartes mémoire | scheda di memoria/schede di memoria
External Hard Drive | vanjski disk/vanjskih diskova | disco duro externo/discos duros externos | externe Festplatte/externe Festplatten | disque dur externe/disques durs externes | hard disk esterno/hard disk esterni
Smart Plug | pametnu utičnicu/pametnih utičnica | enchufe inteligente/enchufes inteligentes | smarte Steckdose/smarte Steckdosen | prise connectée/prises connectées | presa smart/prese smart
Car Charger | punjač za auto/punjača za auto | cargador de coche/cargadores de coche | Autoladegerät/Autoladegeräte | chargeur voiture/chargeurs voiture | caricatore da auto/caricatori da auto
Earphones | slušalice/slušalica | auriculares/auriculares | Ohrhörer/Ohrhörer | écouteurs/écouteurs | auricolari/auricolari
Soundbar | soundbar/soundbara | barra de sonido/barras de sonido | Soundbar/Soundbars | barre de son/barres de son | soundbar/soundbar
Fitness Tracker | narukvicu za fitness/narukvica za fitness | pulsera de actividad/pulseras de actividad | Fitnessarmband/Fitnessarmbänder | bracelet connecté/bracelets connectés | braccialetto fitness/braccialetti fitness
Action Camera | akcijsku kameru/akcijskih kamera | cámara deportiva/cámaras deportivas | Actionkamera/Actionkameras | caméra sport/caméras sport | action cam/action cam
Game Controller | kontroler/kontrolera | mando/mandos | Controller/Controller | manette/manettes | controller/controller
VR Headset | vr naočale/vr naočala | gafas de realidad virtual/gafas de realidad virtual | VR-Brille/VR-Brillen | casque de réalité virtuelle/casques de réalité virtuelle | visore vr/visori vr
Cardigan | kardigan/kardigana | chaqueta de punto/chaquetas de punto | Strickjacke/Strickjacken | gilet/gilets | cardigan/cardigan
Blazer | sako/sakoa | americana/americanas | Sakko/Sakkos | veste de costume/vestes de costume | giacca/giacche
Swimsuit | kupaći kostim/kupaćih kostima | bañador/bañadores | Badeanzug/Badeanzüge | maillot de bain/maillots de bain | costume da bagno/costumi da bagno
Bikini | bikini/bikinija | biquini/biquinis | Bikini/Bikinis | bikini/bikinis | bikini/bikini
Polo Shirt | polo majicu/polo majica | polo/polos | Poloshirt/Poloshirts | polo/polos | polo/polo
Denim Jacket | traper jaknu/traper jakni | chaqueta vaquera/chaquetas vaqueras | Jeansjacke/Jeansjacken | veste en jean/vestes en jean | giacca di jeans/giacche di jeans
Belt | remen/remena | cinturón/cinturones | Gürtel/Gürtel | ceinture/ceintures | cintura/cinture
Wallet | novčanik/novčanika | cartera/carteras | Geldbörse/Geldbörsen | portefeuille/portefeuilles | portafoglio/portafogli
Suitcase | kofer/kofera | maleta/maletas | Koffer/Koffer | valise/valises | valigia/valigie
Hiking Boots | planinarske cipele/planinarskih cipela | botas de montaña/botas de montaña | Wanderschuhe/Wanderschuhe | chaussures de randonnée/chaussures de randonnée | scarponi da trekking/scarponi da trekking
Ankle Socks | kratke čarape/kratkih čarapa | calcetines tobilleros/calcetines tobilleros | Sneakersocken/Sneakersocken | socquettes/socquettes | calzini corti/calzini corti
Bow Tie | leptir mašnu/leptir mašni | pajarita/pajaritas | Fliege/Fliegen | nœud papillon/nœuds papillon | papillon/papillon
Raincoat | kabanicu/kabanica | impermeable/impermeables | Regenmantel/Regenmäntel | imperméable/imperméables | impermeabile/impermeabili
"""

TRANSLATIONS: dict[str, dict[str, SurfaceForm]] = parse_form_table(_TABLE, ("hr", "es", "de", "fr", "it"),
                                                                   "open translation")
