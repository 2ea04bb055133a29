"""Building and delivering email: SMTP from the smtp_default connection, else an outbox folder.

    connection.py  SmtpSettings from Airflow's smtp_default connection (AIRFLOW_CONN_SMTP_DEFAULT)
    message.py     build_message: the MIME email of a rendered report, addresses checked
    smtp.py        deliver: SMTP with retries (at most once), or an .eml in the outbox; already_sent
    claim.py       the once-per-date send claim
"""

from monitor.notify.claim import claim_send, read_claim, release_claim, settle_claim, why_claimed
from monitor.notify.connection import ENV_VAR, SmtpSettings, parse_smtp_connection, smtp_settings_from_env
from monitor.notify.message import build_message, sanitize_header
from monitor.notify.smtp import DeliveryUnknownError, already_sent, deliver

__all__ = [
    "SmtpSettings",
    "smtp_settings_from_env",
    "parse_smtp_connection",
    "build_message",
    "deliver",
    "already_sent",
    "sanitize_header",
    "ENV_VAR",
    "DeliveryUnknownError",
    "claim_send",
    "read_claim",
    "settle_claim",
    "release_claim",
    "why_claimed",
]
