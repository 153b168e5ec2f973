"""The console's words in French (the default) and English, and how numbers and dates are written.

Templates read labels as `t.name`; a label missing from one language fails the test that compares
both tables, and a label missing from both fails the page (templates use StrictUndefined).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Literal, get_args
from zoneinfo import ZoneInfo

__all__ = ["LABELS", "LANGUAGES", "Formatter", "Language", "language_or"]

Language = Literal["fr", "en"]
LANGUAGES: tuple[Language, ...] = get_args(Language)

_FR: dict[str, str] = {
    "nav_batches": "Lots",
    "batches_title": "Traitements par lots",
    "batches_intro": "Les lots envoyés par /v1/batches, exécutés par la passerelle ligne à ligne à la priorité la plus basse, "
    "et leurs fichiers de résultats.",
    "batch": "Lot",
    "batch_status": "Statut",
    "batch_progress": "Avancement",
    "batch_endpoint": "Opération",
    "batch_created": "Créé le",
    "batch_files": "Fichiers",
    "batch_failed_lines": "en erreur",
    "output_file": "résultats",
    "error_file": "erreurs",
    "no_batches": "Aucun lot pour l'instant.",
    "batch_validating": "en validation",
    "batch_in_progress": "en cours",
    "batch_finalizing": "en finalisation",
    "batch_completed": "terminé",
    "batch_failed": "échoué",
    "batch_expired": "expiré",
    "batch_cancelling": "en annulation",
    "batch_cancelled": "annulé",
    "app_name": "Passerelle souveraine · console",
    "skip_to_content": "Aller au contenu",
    "main_nav": "Navigation principale",
    "language": "Langue",
    "signed_in_as": "Connecté : ",
    "sign_out": "Se déconnecter",
    "sign_in": "Se connecter",
    "sign_in_title": "Connexion à la console",
    "sign_in_intro": "Collez une clé d'API d'administration (administrateur de la plateforme ou d'un département). "
    "La clé n'est pas conservée : elle est échangée contre une session de {minutes} minutes.",
    "api_key": "Clé d'API",
    "api_key_hint": "Commence par sgw_ ; elle n'est jamais affichée ni enregistrée par la console.",
    "sign_in_failed": "Clé refusée : elle est inconnue, révoquée, expirée ou mal copiée.",
    "sign_in_not_admin": "Cette clé n'a pas de droit d'administration : la console est réservée aux administrateurs.",
    "sign_in_blocked": "Trop d'essais refusés depuis cette adresse : réessayez dans {seconds} secondes.",
    "sign_in_unavailable": "Les clés ne peuvent pas être vérifiées pour le moment ; réessayez.",
    "sign_in_with": "Se connecter avec {label}",
    "sign_in_with_key": "Ou avec une clé d'API d'administration",
    "sign_in_providers_intro": "Connectez-vous avec le compte de votre organisation.",
    "oidc_failed": "La connexion n'a pas abouti (refusée, expirée ou déjà utilisée) : recommencez.",
    "oidc_unavailable": "Le fournisseur d'identité ne répond pas pour le moment ; réessayez.",
    "oidc_unmapped": "Votre compte est bien reconnu, mais aucune règle ne le rattache à un département "
    "de la passerelle : demandez à l'équipe de la plateforme de vous en donner l'accès.",
    "signed_in_continue": "Connexion réussie. Continuer vers la console",
    "oidc_not_admin": "Votre compte est rattaché à un département, mais sans droit d'administration : "
    "la console est réservée aux administrateurs.",
    "signing_out_provider": "Session terminée ici. Terminer aussi la session chez le fournisseur d'identité",
    "session_ended": "Votre session a pris fin. Reconnectez-vous.",
    "signed_out": "Vous êtes déconnecté.",
    "nav_overview": "Vue d'ensemble",
    "nav_department": "Département",
    "nav_requests": "Journal des requêtes",
    "nav_keys": "Clés",
    "nav_backends": "Serveurs",
    "nav_policies": "Politiques",
    "overview_title": "Vue d'ensemble",
    "department_title": "Département {department}",
    "period": "Mois",
    "show": "Afficher",
    "filter": "Filtrer",
    "reset": "Réinitialiser",
    "requests": "Requêtes",
    "tokens": "Jetons",
    "prompt_tokens": "Jetons d'entrée",
    "completion_tokens": "Jetons de sortie",
    "total_tokens": "Jetons (total)",
    "audio_seconds": "Audio (secondes)",
    "weighted_cost": "Coût pondéré",
    "cost_eur": "Coût (€)",
    "share": "Part",
    "error_rate": "Taux d'erreur",
    "error_rate_detail": "{errors} sur les {count} dernières requêtes du journal d'audit, depuis {since} "
    "(4xx : {client}, 5xx : {server})",
    "error_rate_none": "Aucune requête récente dans le journal d'audit.",
    "error_rate_unavailable": "Indisponible : le journal d'audit n'est pas écrit dans un fichier.",
    "tokens_per_day": "Jetons par jour",
    "tokens_per_day_by_department": "Jetons par jour et par département, {period}",
    "tokens_per_day_by_service": "Jetons par jour et par service, {period}",
    "tokens_per_day_by_model": "Jetons par jour et par modèle, {period}",
    "chart_description": "Barres empilées : une barre par jour, une couleur par {what}. Les chiffres sont dans "
    "le tableau qui suit.",
    "by_department": "département",
    "by_service": "service",
    "by_model": "modèle",
    "other": "autres",
    "data_table": "Tableau des données : {caption}",
    "day": "Jour",
    "total": "Total",
    "budgets": "Budgets",
    "budgets_month": "Budgets du mois (jetons pondérés), {period}",
    "budgets_day": "Budgets du jour (jetons pondérés), {day}",
    "budgets_description": "Une barre par budget : la partie utilisée, la limite tracée en trait vertical.",
    "budgets_none": "Aucun budget mensuel ou journalier n'est configuré ici (section quotas).",
    "budgets_source": "D'après les relevés d'usage : les requêtes en cours ne sont pas encore comptées.",
    "limit": "limite",
    "used": "Utilisé",
    "remaining": "Restant",
    "level": "Niveau",
    "top_models": "Modèles les plus utilisés",
    "model": "Modèle",
    "department": "Département",
    "departments": "Départements",
    "service": "Service",
    "services": "Services",
    "all_departments": "Tous les départements",
    "no_usage": "Aucun usage enregistré pour cette période.",
    "usage_unavailable": "L'usage ne peut pas être lu pour le moment ; réessayez.",
    "export_csv": "Exporter en CSV",
    "statement": "Relevé mensuel",
    "statement_pdf": "PDF",
    "statement_csv": "CSV",
    "energy_wh": "Énergie (Wh)",
    "emissions_gco2eq": "Émissions (gCO2e)",
    "as_of": "Chiffres lus à {time}.",
    "usage_by_service": "Usage par service",
    "usage_by_model": "Usage par modèle",
    "export_by_service": "par service",
    "export_by_model": "par modèle",
    "export_by_day": "par jour",
    "requests_title": "Journal des requêtes",
    "audit_off": "Le journal d'audit est désactivé (audit.enabled) : aucune requête ne peut être affichée.",
    "audit_stdout": "Le journal d'audit est écrit sur la sortie standard (audit.path: -) : la console ne "
    "peut pas le lire. Donnez-lui un fichier pour consulter les requêtes ici.",
    "filters": "Filtres",
    "status": "Statut",
    "status_any": "Tous",
    "status_ok": "Succès (2xx)",
    "status_client": "Erreurs client (4xx)",
    "status_server": "Erreurs serveur (5xx)",
    "from": "Depuis",
    "until": "Jusqu'à",
    "time_hint": "Heure locale ({zone}).",
    "request_id": "Identifiant de requête",
    "any": "Tous",
    "time": "Heure",
    "operation": "Opération",
    "decision": "Décision",
    "latency": "Latence",
    "no_records": "Aucune requête ne correspond à ces filtres.",
    "older": "Requêtes plus anciennes",
    "newest": "Plus récentes",
    "scan_stopped": "La recherche s'est arrêtée après {mib} Mio du journal : réduisez la période pour "
    "remonter plus loin.",
    "showing": "{count} requêtes affichées, de la plus récente à la plus ancienne.",
    "request_title": "Requête {request_id}",
    "request_not_found": "Aucune requête {request_id} dans le journal d'audit.",
    "trace_id": "Identifiant de trace",
    "key_id": "Identifiant de clé",
    "backend": "Serveur",
    "rule": "Règle appliquée",
    "no_rule": "aucune règle : refus par défaut",
    "pii": "Données personnelles détectées",
    "pii_none": "aucune",
    "entity": "Type",
    "count": "Nombre",
    "seq": "Rang dans la chaîne",
    "allow": "autorisée",
    "deny": "refusée",
    "none": "—",
    "keys_title": "Clés d'API",
    "keys_of": "Clés de {department}",
    "keys_none": "Aucune clé pour ce département.",
    "prefix": "Préfixe",
    "label": "Libellé",
    "roles": "Rôles",
    "created": "Créée",
    "expires": "Expire",
    "last_used": "Dernier usage",
    "never": "jamais",
    "actions": "Actions",
    "revoke": "Révoquer",
    "revoked": "révoquée",
    "active": "active",
    "expired": "expirée",
    "create_key": "Créer une clé",
    "create": "Créer",
    "expires_in": "Durée de validité",
    "expires_never": "Sans expiration",
    "label_hint": "Texte libre : à quoi sert la clé, qui la détient.",
    "roles_hint": "« user » appelle les modèles ; « department-admin » gère aussi les clés et lit l'usage "
    "du département ; « admin » administre toute la plateforme.",
    "service_hint": "Minuscules, chiffres, . _ - (par exemple assistant-courrier).",
    "key_created_title": "Clé créée",
    "key_created": "Voici la clé de {service} ({department}). Elle n'est affichée qu'une fois : copiez-la "
    "maintenant et transmettez-la par un canal sûr.",
    "copy_key": "Copier",
    "copied": "Copiée",
    "back_to_keys": "Retour aux clés",
    "revoke_title": "Révoquer la clé {prefix}",
    "revoke_confirm": "La clé {prefix} ({department}/{service}) sera refusée partout dans la seconde. "
    "Cette action est définitive.",
    "revoke_yes": "Oui, révoquer cette clé",
    "cancel": "Annuler",
    "key_revoked": "Clé {prefix} révoquée.",
    "key_invalid": "La clé n'a pas pu être créée : {reason}",
    "show_department": "Afficher",
    "backends_title": "Serveurs de modèles",
    "backends_intro": "Vu par ce processus de la passerelle : requêtes en cours, file d'attente et cache KV "
    "relevés sur /metrics de vLLM ; « Simultanées max. » est la part de ce processus quand plusieurs se "
    "partagent un serveur.",
    "health": "État",
    "up": "disponible",
    "down": "hors ligne",
    "ejected": "écarté",
    "in_flight": "En cours",
    "running": "En génération",
    "queue": "File d'attente",
    "kv_cache": "Cache KV",
    "ejections": "Mises à l'écart",
    "weight": "Poids",
    "max_concurrent": "Simultanées max.",
    "admission_queue": "File d'attente de la passerelle",
    "admission_queue_empty": "Aucune requête n'attend : un serveur a de la place.",
    "priority_class": "Classe",
    "waiting_requests": "En attente",
    "class_interactive": "interactive",
    "class_standard": "standard",
    "class_batch": "lots",
    "policies_title": "Politiques d'autorisation",
    "policy_version": "Version",
    "policy_loaded": "Chargée le",
    "policy_digest": "Empreinte",
    "policy_error": "Dernière modification refusée",
    "policy_files": "Fichiers",
    "policy_check": "Vérifier une décision",
    "policy_check_intro": "Ce que la politique en vigueur déciderait, comme « gateway policy check ».",
    "roles_comma": "Rôles de la clé (séparés par des virgules)",
    "model_any": "(aucun : admin et usage:read)",
    "check": "Vérifier",
    "allowed": "AUTORISÉ",
    "denied": "REFUSÉ",
    "matched_rule": "Règle : {rule} (ligne {line})",
    "denied_by_default": "Aucune règle ne correspond : refus par défaut.",
    "subjects": "Sujets : service {service} (rôles dans {department} : {held}) ; rôles de la clé : {roles}",
    "policy_rules": "Règles en vigueur",
    "policy_rule": "Règle",
    "line": "Ligne",
    "type": "Type",
    "subject": "Sujet",
    "effect": "Effet",
    "role": "Rôle",
    "check_invalid": "Vérification impossible : {reason}",
    "error_title": "Erreur",
    "forbidden": "Accès refusé : cette clé ne peut pas consulter cette page.",
    "not_found": "Page introuvable.",
    "bad_request": "Requête incorrecte : {reason}",
    "csrf_failed": "Le formulaire a expiré ou ne vient pas de la console. Rechargez la page et recommencez.",
    "back_home": "Retour à la vue d'ensemble",
    "this_worker": "ce processus",
}

_EN: dict[str, str] = {
    "nav_batches": "Batches",
    "batches_title": "Batch jobs",
    "batches_intro": "Batches sent through /v1/batches, run by the gateway line by line at the lowest priority, "
    "and their result files.",
    "batch": "Batch",
    "batch_status": "Status",
    "batch_progress": "Progress",
    "batch_endpoint": "Operation",
    "batch_created": "Created",
    "batch_files": "Files",
    "batch_failed_lines": "failed",
    "output_file": "output",
    "error_file": "errors",
    "no_batches": "No batch yet.",
    "batch_validating": "validating",
    "batch_in_progress": "in progress",
    "batch_finalizing": "finalizing",
    "batch_completed": "completed",
    "batch_failed": "failed",
    "batch_expired": "expired",
    "batch_cancelling": "cancelling",
    "batch_cancelled": "cancelled",
    "app_name": "Sovereign gateway · console",
    "skip_to_content": "Skip to content",
    "main_nav": "Main navigation",
    "language": "Language",
    "signed_in_as": "Signed in: ",
    "sign_out": "Sign out",
    "sign_in": "Sign in",
    "sign_in_title": "Sign in to the console",
    "sign_in_intro": "Paste an administration API key (platform or department administrator). The key is not "
    "kept: it is exchanged for a {minutes}-minute session.",
    "api_key": "API key",
    "api_key_hint": "Starts with sgw_; the console never shows or stores it.",
    "sign_in_failed": "Key refused: it is unknown, revoked, expired or mistyped.",
    "sign_in_not_admin": "This key has no administration rights: the console is for administrators.",
    "sign_in_blocked": "Too many refused attempts from this address: try again in {seconds} seconds.",
    "sign_in_unavailable": "Keys cannot be checked right now; please retry.",
    "sign_in_with": "Sign in with {label}",
    "sign_in_with_key": "Or with an administration API key",
    "sign_in_providers_intro": "Sign in with your organisation's account.",
    "oidc_failed": "The sign-in did not complete (refused, expired or already used): please start again.",
    "oidc_unavailable": "The identity provider is not answering right now; please retry.",
    "oidc_unmapped": "Your account is recognised, but no rule attaches it to a department of the gateway: "
    "ask the platform team to give you access.",
    "signed_in_continue": "Signed in. Continue to the console",
    "oidc_not_admin": "Your account is attached to a department, but without administration rights: "
    "the console is for administrators.",
    "signing_out_provider": "Signed out here. End the session at the identity provider too",
    "session_ended": "Your session has ended. Please sign in again.",
    "signed_out": "You are signed out.",
    "nav_overview": "Overview",
    "nav_department": "Department",
    "nav_requests": "Request log",
    "nav_keys": "Keys",
    "nav_backends": "Backends",
    "nav_policies": "Policies",
    "overview_title": "Overview",
    "department_title": "Department {department}",
    "period": "Month",
    "show": "Show",
    "filter": "Filter",
    "reset": "Reset",
    "requests": "Requests",
    "tokens": "Tokens",
    "prompt_tokens": "Input tokens",
    "completion_tokens": "Output tokens",
    "total_tokens": "Tokens (total)",
    "audio_seconds": "Audio (seconds)",
    "weighted_cost": "Weighted cost",
    "cost_eur": "Cost (€)",
    "share": "Share",
    "error_rate": "Error rate",
    "error_rate_detail": "{errors} of the latest {count} requests in the audit log, since {since} "
    "(4xx: {client}, 5xx: {server})",
    "error_rate_none": "No recent request in the audit log.",
    "error_rate_unavailable": "Unavailable: the audit log is not written to a file.",
    "tokens_per_day": "Tokens per day",
    "tokens_per_day_by_department": "Tokens per day and department, {period}",
    "tokens_per_day_by_service": "Tokens per day and service, {period}",
    "tokens_per_day_by_model": "Tokens per day and model, {period}",
    "chart_description": "Stacked bars: one bar per day, one colour per {what}. The figures are in the table "
    "below.",
    "by_department": "department",
    "by_service": "service",
    "by_model": "model",
    "other": "other",
    "data_table": "Data table: {caption}",
    "day": "Day",
    "total": "Total",
    "budgets": "Budgets",
    "budgets_month": "Monthly budgets (weighted tokens), {period}",
    "budgets_day": "Daily budgets (weighted tokens), {day}",
    "budgets_description": "One bar per budget: the part used, the limit drawn as a vertical line.",
    "budgets_none": "No monthly or daily budget is configured here (quotas section).",
    "budgets_source": "From usage records: requests in progress are not counted yet.",
    "limit": "limit",
    "used": "Used",
    "remaining": "Remaining",
    "level": "Level",
    "top_models": "Top models",
    "model": "Model",
    "department": "Department",
    "departments": "Departments",
    "service": "Service",
    "services": "Services",
    "all_departments": "All departments",
    "no_usage": "No usage recorded for this period.",
    "usage_unavailable": "Usage cannot be read right now; please retry.",
    "export_csv": "Export as CSV",
    "statement": "Monthly statement",
    "statement_pdf": "PDF",
    "statement_csv": "CSV",
    "energy_wh": "Energy (Wh)",
    "emissions_gco2eq": "Emissions (gCO2e)",
    "as_of": "Figures read at {time}.",
    "usage_by_service": "Usage by service",
    "usage_by_model": "Usage by model",
    "export_by_service": "by service",
    "export_by_model": "by model",
    "export_by_day": "by day",
    "requests_title": "Request log",
    "audit_off": "The audit log is off (audit.enabled): no request can be shown.",
    "audit_stdout": "The audit log is written to standard output (audit.path: -): the console cannot read it. "
    "Give it a file to browse requests here.",
    "filters": "Filters",
    "status": "Status",
    "status_any": "Any",
    "status_ok": "Success (2xx)",
    "status_client": "Client errors (4xx)",
    "status_server": "Server errors (5xx)",
    "from": "From",
    "until": "Until",
    "time_hint": "Local time ({zone}).",
    "request_id": "Request id",
    "any": "Any",
    "time": "Time",
    "operation": "Operation",
    "decision": "Decision",
    "latency": "Latency",
    "no_records": "No request matches these filters.",
    "older": "Older requests",
    "newest": "Newest",
    "scan_stopped": "The search stopped after {mib} MiB of the log: narrow the time range to go further back.",
    "showing": "{count} requests shown, newest first.",
    "request_title": "Request {request_id}",
    "request_not_found": "No request {request_id} in the audit log.",
    "trace_id": "Trace id",
    "key_id": "Key id",
    "backend": "Backend",
    "rule": "Matched rule",
    "no_rule": "no rule: denied by default",
    "pii": "Personal data detected",
    "pii_none": "none",
    "entity": "Type",
    "count": "Count",
    "seq": "Position in the chain",
    "allow": "allowed",
    "deny": "denied",
    "none": "—",
    "keys_title": "API keys",
    "keys_of": "Keys of {department}",
    "keys_none": "No key for this department.",
    "prefix": "Prefix",
    "label": "Label",
    "roles": "Roles",
    "created": "Created",
    "expires": "Expires",
    "last_used": "Last used",
    "never": "never",
    "actions": "Actions",
    "revoke": "Revoke",
    "revoked": "revoked",
    "active": "active",
    "expired": "expired",
    "create_key": "Create a key",
    "create": "Create",
    "expires_in": "Valid for",
    "expires_never": "No expiry",
    "label_hint": "Free text: what the key is for, who holds it.",
    "roles_hint": "“user” calls the models; “department-admin” also manages the keys and reads the usage of "
    "the department; “admin” administers the whole platform.",
    "service_hint": "Lowercase letters, digits, . _ - (e.g. assistant-courrier).",
    "key_created_title": "Key created",
    "key_created": "Here is the key of {service} ({department}). It is shown only once: copy it now and hand "
    "it over through a safe channel.",
    "copy_key": "Copy",
    "copied": "Copied",
    "back_to_keys": "Back to the keys",
    "revoke_title": "Revoke key {prefix}",
    "revoke_confirm": "Key {prefix} ({department}/{service}) will be refused everywhere within a second. This "
    "cannot be undone.",
    "revoke_yes": "Yes, revoke this key",
    "cancel": "Cancel",
    "key_revoked": "Key {prefix} revoked.",
    "key_invalid": "The key could not be created: {reason}",
    "show_department": "Show",
    "backends_title": "Model backends",
    "backends_intro": "As this gateway process sees them: requests in flight, queue and KV cache scraped from "
    "vLLM's /metrics; \"Max concurrent\" is this process's share when several share a backend.",
    "health": "Health",
    "up": "up",
    "down": "down",
    "ejected": "ejected",
    "in_flight": "In flight",
    "running": "Running",
    "queue": "Queue",
    "kv_cache": "KV cache",
    "ejections": "Ejections",
    "weight": "Weight",
    "max_concurrent": "Max concurrent",
    "admission_queue": "Gateway queue",
    "admission_queue_empty": "No request is waiting: a backend has room.",
    "priority_class": "Class",
    "waiting_requests": "Waiting",
    "class_interactive": "interactive",
    "class_standard": "standard",
    "class_batch": "batch",
    "policies_title": "Authorization policies",
    "policy_version": "Version",
    "policy_loaded": "Loaded at",
    "policy_digest": "Digest",
    "policy_error": "Last edit refused",
    "policy_files": "Files",
    "policy_check": "Check a decision",
    "policy_check_intro": "What the policy in force would decide, like “gateway policy check”.",
    "roles_comma": "Key roles (comma-separated)",
    "model_any": "(none: admin and usage:read)",
    "check": "Check",
    "allowed": "ALLOW",
    "denied": "DENY",
    "matched_rule": "Rule: {rule} (line {line})",
    "denied_by_default": "No rule matched: denied by default.",
    "subjects": "Subjects: service {service} (roles in {department}: {held}); key roles: {roles}",
    "policy_rules": "Rules in force",
    "policy_rule": "Rule",
    "line": "Line",
    "type": "Type",
    "subject": "Subject",
    "effect": "Effect",
    "role": "Role",
    "check_invalid": "Cannot check: {reason}",
    "error_title": "Error",
    "forbidden": "Access denied: this key may not see this page.",
    "not_found": "Page not found.",
    "bad_request": "Bad request: {reason}",
    "csrf_failed": "The form has expired or does not come from the console. Reload the page and try again.",
    "back_home": "Back to the overview",
    "this_worker": "this process",
}

LABELS: dict[Language, dict[str, str]] = {"fr": _FR, "en": _EN}


def language_or(value: str | None, default: Language) -> Language:
    for language in LANGUAGES:
        if value == language:
            return language
    return default


_UNITS = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))


class Formatter:
    """Numbers, money, shares and times as people of `language` write them, times in `zone`."""

    def __init__(self, language: Language, zone: ZoneInfo) -> None:
        self.language = language
        self.zone = zone
        self._group = "\u202f" if language == "fr" else ","
        self._decimal = "," if language == "fr" else "."

    def _decimals(self, value: float, places: int) -> str:
        text = f"{value:,.{places}f}"
        return text.replace(",", "\x00").replace(".", self._decimal).replace("\x00", self._group)

    def num(self, value: float | None) -> str:
        """An integer with thousands grouped: 1 234 567 (fr), 1,234,567 (en)."""
        if value is None:
            return "—"
        return self._decimals(round(value), 0)

    def compact(self, value: float) -> str:
        """Axis ticks: 1,2 M (fr), 1.2 M (en)."""
        for unit, size in _UNITS:
            if abs(value) >= size:
                scaled = value / size
                places = 0 if scaled == math.floor(scaled) else 1
                return f"{self._decimals(scaled, places)} {unit}"
        return self._decimals(value, 0 if value == math.floor(value) else 1)

    def eur(self, micro: int) -> str:
        """Micro-euros as euros with cents: 12,35 € (fr), €12.35 (en)."""
        amount = self._decimals(micro / 1_000_000, 2)
        return f"{amount}\u00a0€" if self.language == "fr" else f"€{amount}"

    def euros(self, value: float) -> str:
        """Euros given as a float (an audit record's `cost_eur`)."""
        return self.eur(round(value * 1_000_000))

    def micro(self, micro: int, places: int = 1) -> str:
        """Millionths (micro-watt-hours, micrograms) as units: 1 234,5 (fr), 1,234.5 (en)."""
        return self._decimals(micro / 1_000_000, places)

    def pct(self, share: float) -> str:
        text = self._decimals(share * 100, 1)
        return f"{text}\u00a0%" if self.language == "fr" else f"{text}%"

    def pct_whole(self, share: float) -> str:
        """A share to the whole percent: 6 % (fr), 6% (en)."""
        text = f"{share * 100:.0f}"
        return f"{text}\u00a0%" if self.language == "fr" else f"{text}%"

    def ms(self, value: float) -> str:
        return f"{self.num(value)}\u00a0ms"

    def when(self, epoch: float | None) -> str:
        """A local date and time, to the minute."""
        if epoch is None:
            return "—"
        return datetime.fromtimestamp(epoch, self.zone).strftime("%Y-%m-%d %H:%M")

    def clock(self, epoch: float) -> str:
        """A local time of day, to the second."""
        return datetime.fromtimestamp(epoch, self.zone).strftime("%H:%M:%S")

    def when_iso(self, text: str) -> str:
        """An audit record's UTC time (`2026-11-03T09:15:02.123Z`) in local time, to the second."""
        try:
            moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        except ValueError:
            return text
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")
