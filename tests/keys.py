"""Recognisable test credentials."""

import secrets

from integrations.demo import anthropic_key, openai_key, service_account_json

OPENAI_OK = "sk-proj-Abc123def456ghi789jkl012mno345pqr678stu901vwxYz99"
ANTHROPIC_OK = "sk-ant-api03-Abc123def456ghi789jkl012mno345pqr678stu901vwx-Zz42"
CANARY = "sk-proj-CANARYzq7Xv9Lw3Pm8Rt5Yu2Io0AbCdEfGhIjKl"
OPENAI_ADMIN = "sk-admin-Abc123def456ghi789jkl012mno345pqr678stu901vwxAd01"
ANTHROPIC_ADMIN = "sk-ant-admin01-Abc123def456ghi789jkl012mno345pqr678stu901vwx-Ad02"


def admin_key(provider: str, marker: str = "") -> str:
    """A fresh Admin key (OpenAI sk-admin-, Anthropic sk-ant-admin01-) carrying a sandbox marker."""
    prefix = "sk-admin-" if provider.upper() == "OPENAI" else "sk-ant-admin01-"
    return f"{prefix}{marker}{secrets.token_urlsafe(30)}"


__all__ = ["ANTHROPIC_OK", "CANARY", "OPENAI_OK", "anthropic_key", "openai_key", "service_account_json"]
