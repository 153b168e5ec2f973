"""The sentence templates, by kind of administrative document.

Slots are listed in `_slots.py`. A `hard_negative` template holds no personal data, or holds some
right next to a decoy or a lookalike number, which is where detectors go wrong.

The en dashes (U+2013) are deliberate: French typography, as pasted from real documents.
"""

from __future__ import annotations

from ._filling import Template

_COURRIERS = (
    "Objet : demande de remboursement. {civil_name}, nous accusons réception de votre courrier du {date} concernant le {case_no}. Votre numéro de sécurité sociale {nir} a bien été enregistré.",
    "{civil_name}, demeurant {address}, sollicite le réexamen de sa situation fiscale au titre de l'année {year}.",
    "Je soussignée {person}, née le {date} à {city}, atteste sur l'honneur l'exactitude des informations transmises.",
    "Nous vous prions de bien vouloir effectuer le virement de {amount} sur le compte IBAN {iban} ouvert au nom de {person}.",
    "Vu {law_ref}, {civil_name} est convoqué le {date} à {time} à la {commune_institution}.",
    "Pour toute question, vous pouvez joindre votre conseiller au {phone} ou par courriel à l'adresse {email}.",
    "Votre avis d'imposition fait apparaître le numéro fiscal {nif} ; merci de le rappeler dans toute correspondance.",
    "La société immatriculée sous le numéro SIREN {siren} (TVA intracommunautaire {tva}) est invitée à régulariser sa déclaration avant le {date}.",
    "{civil_name}, votre demande de titre de séjour n'a pu aboutir. Vous pouvez former un recours devant le {commune_institution} dans un délai de {duration}.",
    "Veuillez adresser les pièces justificatives à l'adresse suivante : {address}.",
    "Suite à notre entretien téléphonique du {date}, je vous confirme que le prélèvement sur la carte {card} a été annulé.",
    "Madame la Directrice, à compter du {date}, mon nouveau domicile est situé {address}. Mon numéro de téléphone reste le {phone}.",
    "Le cabinet de {civil_name}, avocat au {commune_institution}, représente l'établissement SIRET {siret} dans le {case_no}.",
    "Je vous prie d'agréer, {civil_name}, l'expression de mes salutations distinguées. {person}, chef du bureau des affaires générales.",
    "Vous trouverez ci-joint la copie de mon passeport n° {passport} ainsi que de ma carte nationale d'identité n° {cni}.",
    "Monsieur le Préfet, j'ai l'honneur de solliciter le renouvellement de ma carte de résident. Je réside {address} et reste joignable au {phone_intl}.",
    "Nous avons bien reçu le paiement de {amount} effectué avec la carte {card} le {date}.",
    "Objet : attestation de vigilance. L'entreprise SIRET {siret}, TVA {tva}, est à jour de ses obligations au {date}.",
    "Votre numéro fiscal ({nif}) figure en haut à gauche de votre déclaration de revenus {year}.",
    "Objet : succession de {married_name}, décédée le {date}. Le notaire chargé du dossier est {titled_name}.",
    "Par jugement du {commune_institution}, {capitals_name} est désigné tuteur de {capitals_name_2}.",
    "Nous accusons réception de la demande d'inscription de votre fils au {named_place} pour la rentrée {year}. Je vous prie d'agréer mes salutations distinguées.{signature}",
    "Mme {last_name} a déposé sa demande le {date} ; {last_name} sera reçue par {initial_name} à la {commune_institution}.",
    "Copie à : {titled_name}, {initial_name}.",
)

_DOSSIERS = (
    "Nom : {last_name} ; prénom : {first_name} ; NIR : {nir} ; date de naissance : {date} ; lieu de naissance : {city}.",
    "Dossier {ref} – demandeur : {person}, {address} – tél. {phone} – courriel : {email}",  # noqa: RUF001
    "Bénéficiaire : {person}. IBAN : {iban}. Montant de l'aide accordée : {amount}.",
    "Entreprise : SIRET {siret}, n° TVA {tva}, représentée par {civil_name}, gérant.",
    "Pièce d'identité fournie : passeport {passport}, délivré le {date} par la préfecture.",
    "Pièce d'identité : CNI n° {cni}, valable jusqu'au {date}.",
    "Fiche usager : {civil_name}, né à {city}, numéro de sécurité sociale {nir}, prise en charge à {percent}.",
    "Le contribuable {person} (numéro fiscal {nif}) a déposé une réclamation contentieuse le {date}.",
    "Coordonnées bancaires du fournisseur (SIREN {siren}) : {iban}.",
    "Paiement par carte bancaire n° {card}, expiration {expiry}, montant {amount}.",
    "Adresse de correspondance : {address} ; adresse électronique : {email}.",
    "Agent instructeur : {person} ; demandeur : {civil_name}, joignable au {phone_intl} depuis l'étranger.",
    "Titulaire du compte : {civil_name} – IBAN {iban} – BIC {bic}.",  # noqa: RUF001
    "NIR de l'assuré : {nir} ; NIR de l'ayant droit : {nir_2}.",
    "Employeur : SIREN {siren}, établissement SIRET {siret}, situé {address}.",
    "Identifiant fiscal : {nif} ; IBAN de remboursement : {iban} ; NIR : {nir}.",
    "Fournisseur : SIREN {siren} – TVA {tva} – contact {email}",  # noqa: RUF001
    "Moyen de paiement enregistré : carte {card} (expire fin {expiry}).",
    "Contrôle d'identité : passeport n° {passport}, puis carte d'identité n° {cni} présentée le {date}.",
    "NOM : {capitals_name} ; situation familiale : mariée ; conjoint : {person}.",
    "Identité de l'allocataire : {married_name}, né à {city}, domicilié {address}.",
    "Demandeur : {capitals_name}, inscrit au {named_place} ; référent : {titled_name}.",
    "Dossier de {capitals_name} suivi par {initial_name} depuis le {date}, service instructeur de {place}.",
)

_TICKETS = (
    "Ticket {ticket} : l'utilisateur {person} ({email}) ne parvient plus à se connecter depuis le poste {hostname} d'adresse IP {ipv4}.",
    "Incident signalé par {first_name} : le serveur {ipv4} ne répond plus depuis {time}, redémarrage demandé.",
    "Blocage du compte après {count} rejetés depuis l'adresse {ipv6} ; merci de rappeler {civil_name} au {phone}.",
    "Demande {ticket} : mise à jour des coordonnées bancaires, nouvel IBAN {iban} transmis par {email}.",
    "L'usager indique que sa carte {card} a été débitée deux fois le {date} pour un montant de {amount}.",
    "Journal : connexion refusée pour {email} depuis {ipv4} à {time}, puis depuis {ipv6}.",
    "Réinitialisation du mot de passe effectuée pour {person} ; confirmation envoyée à {email} et par SMS au {phone}.",
    "Le formulaire en ligne rejette le numéro SIRET {siret} saisi par l'entreprise, alors qu'il figure bien au répertoire Sirene.",
    "Erreur 500 lors de la télédéclaration : l'usager {civil_name}, numéro fiscal {nif}, ne peut pas valider sa déclaration.",
    "Appel de {civil_name} ({phone_intl}) : son NIR {nir} n'est pas reconnu par le téléservice.",
    "Ticket clos : {person} a mis à jour le poste {ipv4} en version {version}.",
    "Accès VPN ouvert pour {email} ; plage autorisée de {ipv4} à {ipv4_2}.",
    "Ticket {ticket} : la passerelle {ipv6} rejette les requêtes de l'application métier depuis le {date}.",
    "Rappel demandé par {civil_name} au {phone} au sujet de son numéro de TVA {tva}.",
    "Le paiement en ligne échoue pour la carte {card} ; l'usager ({email}) a réessayé le {date}.",
    "La synchronisation avec l'annuaire Sirene renvoie une erreur pour le SIREN {siren} et le numéro de TVA {tva}.",
    "Le contribuable dont le numéro fiscal est {nif} signale une erreur d'affichage depuis l'adresse {ipv4}.",
)

_COMPTES_RENDUS = (
    "Présents : {person}, {person_2}, {civil_name}. Excusé : {person_3}.",
    "Compte rendu de la réunion du {date} à {place} : {civil_name} a présenté le bilan du dispositif, soit {count} traités.",
    "{civil_name} rappelle que le marché attribué à l'entreprise SIREN {siren} arrive à échéance le {date}.",
    "Le comité a examiné la situation de {person}, domicilié {address}, et propose une aide de {amount}.",
    "Prochaine réunion le {date} à {time} ; contact : {person}, {phone}, {email}.",
    "Audition de {civil_name}, titulaire de la carte d'identité n° {cni}, dans le cadre du {case_no}.",
    "Le rapporteur, {civil_name}, souligne la hausse de {percent} des demandes reçues à {place} depuis {year}.",
    "Visite du site de {place} : les représentants de la société (SIRET {siret}) ont été reçus par {person}.",
    "Décision : la créance de {amount} sera recouvrée par prélèvement sur le compte {iban}.",
    "Point sécurité : des accès anormaux ont été constatés depuis {ipv4} et {ipv6}, le compte de {person} a été suspendu.",
    "La commission de {place} a auditionné {civil_name}, qui a présenté son passeport n° {passport}.",
    "Le directeur, {person}, indique que {count} ont été instruits à {place} et {place_2} au premier semestre.",
    "{civil_name} a produit son passeport ({passport}) et un justificatif de domicile au {address}.",
    "Le fournisseur retenu (SIRET {siret}, TVA {tva}) sera payé sur le compte {iban}.",
    "Présents : {attendees}. Excusés : {attendees_2}.",
    "Participants : {attendees}. Ordre du jour : travaux du {named_place} et convention avec {institution}.",
    "Étaient présents {attendees}. La séance est présidée par {titled_name}.",
    "Le rapport de {initial_name} sur le {named_place} est adopté ; {capitals_name} s'abstient.",
)

_ECHANGES = (
    "Bonjour, je m'appelle {person} et j'habite {address}. Je n'ai toujours pas reçu ma carte Vitale, mon numéro de sécu est {nir}.",
    "Bonjour {first_name}, pouvez-vous me rappeler au {phone} ? Merci.",
    "Je vous envoie mon RIB : {iban}. Cordialement, {person}",
    "Mon adresse mail a changé, c'est désormais {email}, merci de mettre à jour mon dossier.",
    "Je suis actuellement à l'étranger, vous pouvez me joindre au {phone_intl} ou à {email}.",
    "Bonjour, mon numéro fiscal est le {nif} et je voudrais corriger ma déclaration de revenus.",
    "Bonjour {civil_name}, votre dossier a été transmis au service instructeur de {place}.",
    "J'ai payé avec ma carte {card} mais le paiement n'apparaît pas, pouvez-vous vérifier ?",
    "Bonjour, je suis auto-entrepreneur, mon SIRET est {siret} et mon numéro de TVA {tva}.",
    "Mon passeport ({passport}) expire le {date}, puis-je quand même déposer ma demande ?",
    "Suite à mon déménagement de {city} à {city_2}, voici ma nouvelle adresse : {address}.",
    "Bonsoir, c'est {first_name}, je ne trouve pas le lien pour prendre rendez-vous, mon numéro : {phone}",
    "Madame, ma fille {person} est née le {date} à {city}, je souhaite l'inscrire à la cantine.",
    "Merci {civil_name}. Pour info mon numéro de sécurité sociale c'est le {nir} et mon portable le {phone}.",
    "Salut, tu peux transmettre à {first_name} ? Son adresse c'est {address}, son mail {email}.",
    "Bonjour, voici mon numéro de carte d'identité : {cni}. Et mon numéro fiscal : {nif}.",
    "Est-ce que je peux payer avec ma carte {card} ou faut-il un virement sur {iban} ?",
    "Notre entreprise (SIREN {siren}, TVA {tva}) souhaite répondre à l'appel d'offres.",
    "Bonjour, je suis {married_name} et mon fils est scolarisé au {named_place}. Cordialement.",
    "Bonjour {titled_name}, suite à notre échange, voici le dossier de {capitals_name}.",
    "J'ai rendez-vous avec {institution} le {date} ; mon conseiller est {initial_name}.",
)

_HARD_NEGATIVES = (
    "Le montant total des subventions versées en {year} s'élève à {amount}, soit une hausse de {percent}.",
    "Vu {law_ref}, le délai de recours contentieux est de {duration}.",
    "Vu {law_ref} et vu {law_ref_2}, le conseil municipal, après en avoir délibéré, adopte la délibération.",
    "Dans le {case_no}, l'audience est renvoyée au {date} à {time}.",
    "Le numéro de sécurité sociale saisi, {bad_nir}, est invalide : la clé de contrôle ne correspond pas.",
    "L'IBAN {bad_iban} a été rejeté par la banque (clé de contrôle erronée).",
    "Le SIREN {bad_siren} ne correspond à aucune entreprise : vérifiez le dernier chiffre.",
    "Le SIRET indiqué sur la facture, {bad_siret}, est erroné.",
    "Le numéro de TVA {bad_tva} n'est pas valide dans le système VIES.",
    "La référence {bad_nif} n'est pas un numéro fiscal valide.",
    "Paiement refusé : le numéro de carte {bad_card} ne passe pas le contrôle de la clé.",
    "Le numéro {bad_phone} n'est pas attribué.",
    "Commande {ref} : {count} livrés le {date} pour {amount}.",
    "Le bureau se situe dans le {postcode} ; il est ouvert du lundi au vendredi de {time} à {time_2}.",
    "Le taux de réussite atteint {percent} sur {count}, contre {percent_2} l'an passé.",
    "La version {version} de l'application corrige {count} signalés entre le {date} et le {date_2}.",
    "Le budget primitif {year} prévoit {amount} en fonctionnement et {amount_2} en investissement.",
    "Référence interne : {ref} – à rappeler dans toute correspondance.",  # noqa: RUF001
    "La facture {ref} du {date}, d'un montant de {amount}, reste impayée malgré la relance du {date_2}.",
    "Le tribunal a enregistré la demande sous le {case_no} ; les parties disposent de {duration} pour produire leurs observations.",
    "Le SIRET {siret} a été retenu, et non {bad_siret} comme indiqué sur le bon de commande.",
    "Le bon IBAN est {iban} ; l'ancien, {bad_iban}, comportait une erreur de saisie.",
    "Mon NIR est {nir} et non {bad_nir}, il y a eu une erreur de frappe.",
    "Carte {card} acceptée ; la carte {bad_card} avait été refusée.",
    "Le standard ({phone}) remplace l'ancien numéro {bad_phone}, qui n'est plus attribué.",
    "Le plafond de la sécurité sociale pour {year} est fixé à {amount} par mois.",
    "Le {case_no} et le code postal {postcode} doivent figurer sur l'enveloppe.",
    "La séance est ouverte à {time} ; {count} sont inscrits à l'ordre du jour, le quorum est atteint à {percent}.",
    "La version {version} du logiciel et le correctif {ref} ont été déployés le {date}.",
    "Numéro de TVA {bad_tva} et SIREN {bad_siren} : les deux comportent une faute de frappe.",
    "Statistiques {year} : {count} déposés, {count_2} instruits, délai moyen de {duration}.",
    "Le numéro fiscal {nif} est correct, mais {bad_nif} ne l'est pas.",
    "Pour le ticket {ticket}, la facture {ref} de {amount} a été rapprochée du bordereau du {date}.",
    "Conformément au barème {year}, l'indemnité passe de {amount} à {amount_2} au {date}.",
    "Le SIREN {siren} est valide ; le {bad_siren} figurant sur l'attestation ne l'est pas.",
    "Les crédits de paiement ouverts s'élèvent à {amount} (article 3 de la loi de finances pour {year}).",
    "Le numéro de TVA {tva} est valide, contrairement à {bad_tva}.",
    "Le numéro {bad_card} saisi comporte une erreur de frappe.",
    "Le NIR {bad_nir} figurant sur l'attestation du {date} est erroné.",
    "Numéro fiscal {bad_nif} : contrôle de la clé en échec.",
    "Les travaux du {named_place} et du {named_place_2} seront achevés en {year}.",
    "La réunion se tiendra au {named_place}, à l'angle de la {named_place_2}.",
    "Le {commune_institution} a rendu sa décision ; {institution} en a pris acte.",
    "Une convention a été signée avec {institution} et le {named_place} pour {amount}.",
    "Le {commune_institution} et le {commune_institution_2} ont été saisis le {date}.",
    "Les inscriptions au {named_place} ouvrent le {date} ; la réunion a lieu à {place}.",
    "Subvention accordée au {named_place} : {amount}, versée par {institution}.",
)

_BY_CATEGORY = {
    "courrier": _COURRIERS,
    "dossier": _DOSSIERS,
    "ticket": _TICKETS,
    "compte_rendu": _COMPTES_RENDUS,
    "echange": _ECHANGES,
    "hard_negative": _HARD_NEGATIVES,
}

HARD_NEGATIVE = "hard_negative"

TEMPLATES: tuple[Template, ...] = tuple(
    Template(name=f"{category}-{number:02d}", category=category, text=text)
    for category, texts in _BY_CATEGORY.items()
    for number, text in enumerate(texts, start=1)
)
