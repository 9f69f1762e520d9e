"""The seed's success messages, word for word, at the start of each result's message (issue 27)."""

from __future__ import annotations

from integrations import IntegrationService

from tests.conftest import ORG
from tests.keys import OPENAI_OK


def test_setup_validate_delete_say_the_seeds_words(svc: IntegrationService) -> None:
    assert svc.setup(ORG, "openai", OPENAI_OK).message.startswith("Integration configured successfully. ")
    assert svc.validate(ORG, "openai").message.startswith("Integration validated successfully")
    assert svc.delete(ORG, "openai").message.startswith("Integration deleted successfully. ")
