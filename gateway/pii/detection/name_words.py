"""The words around names that French administrative texts use, written by hand.

Every word here is folded (lower case, no accents: `fold`) so that "Maître", "MAITRE" and "maitre"
are one entry. The name lists themselves come from INSEE (gateway/pii/detection/lexicon.py);
these are the clues that tell a name from a word that only looks like one.
"""

from __future__ import annotations

import unicodedata

__all__ = [
    "ACRONYMS",
    "AMBIGUOUS_NAMES",
    "ANNOUNCING_PAIRS",
    "ANNOUNCING_WORDS",
    "CIVILITIES",
    "COMMON_WORDS",
    "DOTTED_CIVILITIES",
    "FUNCTION_WORDS",
    "GRAMMAR_WORDS",
    "LIST_LABELS",
    "LOOKBACK_STOPS",
    "ORGANISATION_WORDS",
    "PARTICLES",
    "PLACE_TYPES",
    "SENTENCE_OPENING_NAMES",
    "fold",
]


def _folding_table() -> dict[int, str]:
    """Accented Latin letters to their base letter, ligatures spelled out, typographic apostrophe
    to the plain one: `str.translate` with this table folds a word at C speed."""
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        character = chr(code)
        base = "".join(c for c in unicodedata.normalize("NFD", character) if not unicodedata.combining(c))
        if base != character and base.isascii():
            table[code] = base
    table.update({ord("œ"): "oe", ord("Œ"): "OE", ord("æ"): "ae", ord("Æ"): "AE", ord("\u2019"): "'"})
    return table


_FOLD = _folding_table()


def fold(word: str) -> str:
    """`word` in lower case without accents: "Gérard" and "GERARD" fold alike."""
    if word.isascii():
        return word.lower().replace("\u2019", "'")
    return word.translate(_FOLD).lower()


def _folded(words: str) -> frozenset[str]:
    return frozenset(fold(word) for word in words.split())


# Civilities and titles that announce a person's name. "M", "Mme", "Dr"... also with their dot.
CIVILITIES = _folded(
    "monsieur madame mademoiselle messieurs mesdames m mme mmes mlle mlles mm mr me maitre maitres"
    " docteur dr professeur pr veuve"
)
# Of those, the abbreviations that take a dot ("M. Dupont"): the dot then ends no sentence.
DOTTED_CIVILITIES = _folded("m mme mmes mlle mlles mm mr me dr pr")

# Joining words inside family names ("Charles de Gaulle", "Le Goff", "Da Silva", "Van der Berg").
PARTICLES = _folded(
    "de du des d' le la les van von der den da das do dos di del della ben bin el al ter ten mac mc"
)

# Types of streets, establishments, institutions and things named after a person: the name that
# follows is not a person's here ("collège Marie Curie", "rue Jean Jaurès", "loi Veil").
PLACE_TYPES = _folded(
    "rue avenue av boulevard bd bld place pl quai allee impasse chemin route rte cours square passage"
    " voie sentier promenade esplanade parvis rond-point pont port porte mail cite residence quartier"
    " lotissement hameau lieu-dit villa parc jardin jardins square"
    " lycee college ecole ecoles maternelle elementaire primaire groupe scolaire universite faculte"
    " campus iut institut conservatoire academie"
    " hopital hopitaux clinique chu chr chi ehpad centre polyclinique maternite dispensaire hospitalier"
    " stade gymnase piscine mediatheque bibliotheque salle theatre musee cinema auditorium amphitheatre"
    " amphi espace complexe halle maison gare station metro tramway aeroport caserne base"
    " fondation association club prix loi lois decret amendement"
    " pavillon batiment immeuble tour foyer eglise cathedrale basilique chapelle paroisse abbaye"
    " saint sainte st ste saints saintes boulangerie pharmacie cabinet-medical hotel restaurant"
    " fonds trophee medaille concours bourse chaire promotion navire bateau"
)

# Words that stop the search for a place type before a name: "la demande transmise par Mme X"
# says nothing about a street, whatever came before "par".
LOOKBACK_STOPS = _folded(
    "par pour avec a au aux chez et ou sur selon entre contre vers que qui dont est sont a ete par"
    " aupres envers sans sous dans en"
)

# Functions and titles: capitalised in letters ("Monsieur le Préfet", "Madame la Directrice"),
# never a name.
FUNCTION_WORDS = _folded(
    "prefet prefete sous-prefet maire adjoint adjointe president presidente directeur directrice"
    " ministre secretaire general generale chef cheffe responsable conseiller conseillere depute"
    " deputee senateur senatrice juge procureur procureure greffier greffiere commissaire inspecteur"
    " inspectrice recteur rectrice doyen doyenne delegue deleguee agent agente ingenieur ingenieure"
    " technicien technicienne gestionnaire redacteur redactrice attache attachee charge chargee"
    " administrateur administratrice gerant gerante avocat avocate notaire huissier"
    " abbe pere soeur frere mere cure eveque cardinal pape"
    " roi reine"
)

# All-capital words that are labels, acronyms or units, not surnames in capitals.
ACRONYMS = _folded(
    "siret siren sirene iban bic rib tva nir nif cni vitale eur ht ttc caf cpam urssaf dgfip drfip"
    " ddfip dreets dreal ddt ddtm dgs drh dsi sg daj sgami anah ants ofii ofpra cnil rgpd ue onu"
    " sncf ratp edf gdf ars cnaf msa apl rsa aah cmu css pmi ase mdph ccas cdd cdi smic pdf url"
    " vpn dns api sms mail email fax tel tel. cedex bp cs insee ina cnrs inserm ena ina ens hec"
    " sa sas sarl sasu eurl sci gie eti pme tpe ssii esn rh it ok nb ps pj objet ref re tr fw"
    " covid sida vih cerfa chorus"
)

# Words right before a name that announce it: family ties ("née Martin", "épouse Leroux"), how
# people introduce themselves ("je m'appelle", "c'est"), greetings and closings ("Bonjour
# Amandine", "Cordialement, A. Leroux"), the roles of case files ("l'usager Jean Petit").
ANNOUNCING_WORDS = _folded(
    "epouse epoux nee ne veuve veuf ep ep. dit dite alias soussigne soussignee appelle appelait moi c'est"
    " bonjour bonsoir salut coucou merci cher chere chers cheres cordialement salutations amities"
    " signe signee l'usager l'usagere contribuable demandeur demanderesse l'assure l'assuree"
    " requerant requerante l'agent l'agente l'interesse l'interessee"
)
# The same, two words long.
ANNOUNCING_PAIRS = frozenset(
    tuple(pair.split())
    for pair in (
        "je suis",
        "a vous",
        "ma fille",
        "ma mere",
        "ma soeur",
        "ma femme",
        "ma tante",
        "ma niece",
        "ma cousine",
        "ma compagne",
        "mon fils",
        "mon pere",
        "mon frere",
        "mon mari",
        "mon epoux",
        "mon oncle",
        "mon neveu",
        "mon cousin",
        "mon conjoint",
        "mon compagnon",
        "sa fille",
        "son fils",
        "son epouse",
        "son epoux",
        "sa femme",
        "son mari",
    )
)

# Labels after which a list of people follows ("Présents : ..."), in minutes and case files.
LIST_LABELS = _folded(
    "presents presentes present presente excuses excusees excuse excusee absents absentes absent"
    " absente participants participantes participant participante destinataires destinataire copie"
    " copies assistaient invites invitees intervenants intervenantes signataires signataire"
    " redacteur redactrice auteur auteure demandeur demandeuse requerant requerante beneficiaire"
    " titulaire contact interlocuteur interlocutrice agent instructeur instructrice referent referente"
    " nom noms prenom prenoms usager usagere assure assuree contribuable defendeur defenderesse"
    " temoin temoins epoux epouse conjoint conjointe representant representante mandataire"
    " emetteur emettrice signe signee visa de a cc cci"
)

# Grammatical words and sentence openers: never part of a name, even after a civility.
GRAMMAR_WORDS = _folded(
    "le la les l' un une des de du d' au aux a et ou mais donc or ni car ce cet cette ces mon ma"
    " mes ton ta tes son sa ses notre nos votre vos leur leurs je tu il elle on nous vous ils elles"
    " qui que quoi dont quand comment pourquoi si ne pas plus tres bien tout tous toute toutes"
    " avec sans pour par sur sous dans en entre vers chez apres avant depuis pendant selon contre"
    " vu objet ref reference cordialement bonjour bonsoir merci salut cher chere chers cheres"
    " oui non suite veuillez pourriez pouvez ci-joint ci-dessous ci-dessus ps nb pj"
    " lundi mardi mercredi jeudi vendredi samedi dimanche janvier fevrier juillet"
    " septembre octobre novembre decembre hier aujourd'hui demain"
)

# Capitalised nouns and adjectives of administrative text and of institutions' names ("France
# Travail", "Banque de France", "Tribunal administratif"): a name needs other evidence than them.
COMMON_WORDS = GRAMMAR_WORDS | _folded(
    "republique francaise etat nation gouvernement ministere prefecture sous-prefecture mairie"
    " commune communes departement departemental departementale region regional regionale conseil"
    " tribunal cour cours administratif administrative judiciaire appel cassation"
    " direction directions service services bureau bureaux division mission pole cellule unite"
    " secretariat cabinet inspection agence office caisse banque tresor tresorerie finances publiques"
    " public publique travail emploi solidarite solidarites sante sociale social sociales education"
    " nationale national interieur justice defense culture economie budget comptes habitat logement"
    " transports police gendarmerie douane douanes armee armees aviation affaires etrangeres"
    " outre-mer ecologie agriculture sport sports jeunesse recherche enseignement superieur"
    " universite hopital college lycee ecole centre institut fondation association federation"
    " union syndicat chambre commerce industrie metiers artisanat ordre barreau greffe parquet"
    " nord sud est ouest haut haute hauts hautes bas basse grand grande grands grandes"
    " vieux nouveau nouvelle ile iles val mont monts"
    " europe europeen europeenne monde international internationale france paris"
    " demande commande dossier dossiers courrier lettre note compte rendu reunion seance decision arrete"
    " recours requete plainte proces-verbal pv attestation certificat declaration formulaire"
    " facture paiement montant total date lieu adresse telephone portable courriel mail email"
    " situation sujet motif resume conclusion conclusions observations avis proposition rappel"
    " important urgent information informations questions question reponse reponses ticket"
    " incident statut priorite categorie description commentaire commentaires pieces piece"
    " identite naissance nationalite profession employeur entreprise societe fournisseur client"
    " usager usagers agent agents personnel personne personnes famille enfant enfants"
    " prochaine prochain premier premiere deuxieme second seconde dernier derniere fin debut"
    " bienvenue attention remarque remarques precision precisions contexte etape etapes"
    " annexe annexes article alinea titre chapitre section madame monsieur mademoiselle"
)

# Words that open or end organisations' names ("Radio France", "France Compétences", "Paris
# Habitat"): a name with one there needs a given name that is no word itself ("Lucie Paris").
ORGANISATION_WORDS = _folded("france paris europe")

# Given names that are also French words or places: a name only with other evidence (a surname
# next to them, a civility, a greeting), never alone ("la place Pierre", "Claire et nette").
AMBIGUOUS_NAMES = _folded(
    "pierre rose claire blanche violette marguerite olive prudence constance patience fleur"
    " ambre jade capucine victoire esperance aurore soleil ocean colombe celeste aime desire"
    " modeste fidele honore constant parfait prosper fortune innocent avril mai mars juin"
    " lourdes florence valence nancy orleans chambery lorraine germain vivien"
    " jourdain lyon nice tours annecy marine france paris"
)

# Given names that are words mostly where a sentence starts, where every word takes a capital
# ("Juste une question", and in English prompts "Will you...", "May I..."): a name alone there
# needs other evidence; elsewhere ("transmis à Grace") they are names.
SENTENCE_OPENING_NAMES = _folded(
    "ange perle lys flore juste felicite angelique iris"
    " will may mark hope ivy holly daisy robin eve dawn faith grace june summer max joy"
)
