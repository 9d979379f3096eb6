#!/bin/sh
# Seeds the demo household through the real client; prints its id.
# The Helmond picture: the gemeente's Wmo-consulent is regisseur; LEV
# contributes on financiën and sociaal netwerk, Senzer on werk & opleiding,
# Zorgboog on lichamelijke gezondheid and the ADL domains; the GP reads the
# health domains; the daughter (mantelzorger) reads huisvesting and ADL;
# the gemeente's debt counsellors (team bms: the cast's j.jansen) read
# financiën, and no one else at the gemeente but the regisseur reads at all
# (the cast's other Wmo-consulent, b.willems, is outside team bms); Savant
# has nothing.
set -eu
O=${1:-build}
DEMO=${EENPLAN_DEMO_DIR:-$O/demo}
cli() { "$O/eenplan" "$@"; }
HH=$(cli --as wmo household create --area noord \
	--member henk.desmet:"Henk de Smet":ouder \
	--member anja.desmet:"Anja de Smet":partner \
	--consent-ref TOESTEMMING-2026-0142 | head -n 1)
q() { cli "$@" >/dev/null; }
q --as wmo goal add "$HH" --domain financien --text "Schulden stabiliseren en een haalbaar budgetplan" --target-date 2027-06-30
q --as wmo goal add "$HH" --domain werk_opleiding --text "Henk vindt passend werk of een leerwerkplek" --target-date 2027-12-31
q --as wmo goal add "$HH" --domain lichamelijke_gezondheid --text "Wond aan het been genezen; medicatie op orde"
q --as wmo goal add "$HH" --domain huisvesting --text "Huurachterstand ingelopen, woning behouden"
q --as wmo action add "$HH" --goal 1 --text "Aanmelden bij schuldhulpverlening en formulieren samen invullen" --owner lev/s.bakker --due 2026-12-15
q --as wmo action add "$HH" --goal 2 --text "Intakegesprek participatie en werkfit-traject" --owner senzer/m.vandijk --due 2027-01-15
q --as wmo action add "$HH" --goal 3 --text "Twee keer per week wondzorg aan huis" --owner zorgboog
q --as wmo assess "$HH" --domain financien --score 2 --remark "Schulden bij meerdere schuldeisers, geen overzicht"
q --as wmo assess "$HH" --domain werk_opleiding --score 2
q --as wmo assess "$HH" --domain lichamelijke_gezondheid --score 3
q --as wmo assess "$HH" --domain huisvesting --score 3
q --as wmo target "$HH" --domain financien --score 4
q --as wmo note add "$HH" --domain financien --text "Eerste huisbezoek: gezin is gemotiveerd, post ligt ongeopend."
# Consent: the household grants, or the regisseur records it with the signed form.
id_of() { sed -n 's/.*"id": *"\{0,1\}\([0-9][0-9]*\).*/\1/p' | head -n 1; }
lev=$(cli --json --as henk consent grant "$HH" --to lev --access contribute --domain financien --domain sociaal_netwerk --purpose "Schuldhulp en sociaal netwerk" | id_of)
q --as henk consent grant "$HH" --to senzer --access contribute --domain werk_opleiding --purpose "Begeleiding naar werk"
q --as wmo consent grant "$HH" --to zorgboog --access contribute --domain lichamelijke_gezondheid --domain basale_adl --domain instrumentele_adl --purpose "Wijkverpleging" --form-ref TOESTEMMING-2026-0142
gp=$(cli --json --as henk consent grant "$HH" --to huisarts-noord --access read --domain lichamelijke_gezondheid --domain geestelijke_gezondheid --purpose "Afstemming met de huisarts" | id_of)
q --as henk consent grant "$HH" --to gemeente --team bms --access read --domain financien --purpose "Schuldhulpverlening door BMS"
q --as henk consent grant "$HH" --to burgers/lisa.desmet --access read --domain huisvesting --domain basale_adl --domain instrumentele_adl --purpose "Dochter helpt als mantelzorger"
echo "$gp" > "$DEMO/gp-grant"
echo "$lev" > "$DEMO/lev-grant"
echo "$HH"
