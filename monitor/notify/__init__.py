"""Building and delivering email: SMTP from the smtp_default connection, else an outbox folder."""

from monitor.notify.claim import claim_send, read_claim, release_claim, settle_claim, why_claimed
from monitor.notify.smtp import (
    ENV_VAR,
    DeliveryUnknownError,
    SmtpSettings,
    already_sent,
    build_message,
    deliver,
    parse_smtp_connection,
    sanitize_header,
    smtp_settings_from_env,
)

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
