"""Recognisable test credentials."""

from integrations.demo import anthropic_key, openai_key, service_account_json

OPENAI_OK = "sk-proj-Abc123def456ghi789jkl012mno345pqr678stu901vwxYz99"
ANTHROPIC_OK = "sk-ant-api03-Abc123def456ghi789jkl012mno345pqr678stu901vwx-Zz42"
CANARY = "sk-proj-CANARYzq7Xv9Lw3Pm8Rt5Yu2Io0AbCdEfGhIjKl"

__all__ = ["ANTHROPIC_OK", "CANARY", "OPENAI_OK", "anthropic_key", "openai_key", "service_account_json"]
