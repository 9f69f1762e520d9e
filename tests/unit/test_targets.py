"""revalidate_many over an explicit list of targets; a rotation keeps the name and metadata it does not replace."""

from __future__ import annotations

import pytest
from integrations import IntegrationError, IntegrationService, Provider, Status
from integrations.domain import Action

from tests.conftest import ORG, fake_service
from tests.keys import anthropic_key, openai_key, service_account_json


def validations(svc: IntegrationService) -> list[tuple[str, str]]:
    return sorted(
        (e.org_slug, e.provider.value) for e in svc.store.events() if e.action == Action.VALIDATE and e.provider
    )


@pytest.fixture
def grid() -> IntegrationService:
    """Two orgs x two providers: a cross product of orgs and providers would check all four."""
    svc = fake_service()
    for slug in ("a-org", "b-org"):
        svc.register_org(slug)
        svc.setup(slug, "openai", openai_key(), skip_validation=True)
        svc.setup(slug, "anthropic", anthropic_key(), skip_validation=True)
    return svc


def test_pairs_check_exactly_those(grid: IntegrationService) -> None:
    report = grid.revalidate_many(targets=[("a-org", "openai"), ("b-org", Provider.ANTHROPIC)])
    assert report.checked == 2 and report.outcomes == {"VALID": 2} and report.missing == []
    assert validations(grid) == [("a-org", "OPENAI"), ("b-org", "ANTHROPIC")]
    assert grid.get_one("a-org", "anthropic").status == Status.PENDING  # not in the targets: untouched


def test_credential_ids_and_pairs_mix_and_each_is_checked_once(grid: IntegrationService) -> None:
    a_openai = grid.get_one("a-org", "openai").credential_id
    assert a_openai
    report = grid.revalidate_many(targets=[a_openai, ("a-org", "OPENAI"), ("b-org", "openai")])
    assert report.checked == 2
    assert validations(grid) == [("a-org", "OPENAI"), ("b-org", "OPENAI")]


def test_targets_without_an_active_credential_are_reported_not_checked(grid: IntegrationService) -> None:
    old = grid.get_one("a-org", "openai").credential_id
    grid.delete("a-org", "openai")
    report = grid.revalidate_many(targets=[old, ("a-org", "gcp"), ("b-org", "openai")])
    assert report.checked == 1 and report.missing == [old, "a-org/GCP"]
    assert validations(grid) == [("b-org", "OPENAI")]


def test_an_empty_target_list_checks_nothing(grid: IntegrationService) -> None:
    assert grid.revalidate_many(targets=[]).checked == 0 and validations(grid) == []


@pytest.mark.parametrize(
    "targets",
    [[("a-org", "nope")], [("Not A Slug", "openai")], [42], [("a-org",)]],
)
def test_bad_targets_are_refused_before_any_check(grid: IntegrationService, targets: list) -> None:
    with pytest.raises(IntegrationError) as err:
        grid.revalidate_many(targets=targets)
    assert err.value.code in {"INVALID_INPUT", "UNSUPPORTED_PROVIDER", "INVALID_ORG_SLUG"}
    assert validations(grid) == []


def test_targets_and_org_filters_do_not_mix(grid: IntegrationService) -> None:
    with pytest.raises(IntegrationError) as err:
        grid.revalidate_many(orgs=["a-org"], targets=[("a-org", "openai")])
    assert err.value.code == "INVALID_INPUT"


def test_existing_keywords_still_select_by_org_and_provider(grid: IntegrationService) -> None:
    assert grid.revalidate_many(orgs=["a-org", "b-org"], providers=["openai"]).checked == 2


def test_rotation_keeps_name_and_metadata_unless_given(svc: IntegrationService) -> None:
    svc.setup(ORG, "openai", openai_key(), credential_name="Prod key", metadata={"environment": "production"})
    svc.setup(ORG, "openai", openai_key())  # a rotation that names nothing
    one = svc.get_one(ORG, "openai")
    assert (one.credential_name, one.metadata) == ("Prod key", {"environment": "production"})
    svc.setup(ORG, "openai", openai_key(), credential_name="Renamed", metadata={})  # given: replaced
    one = svc.get_one(ORG, "openai")
    assert (one.credential_name, one.metadata) == ("Renamed", {})
    svc.setup(ORG, "openai", openai_key(), metadata={"team": "ml"})
    one = svc.get_one(ORG, "openai")
    assert (one.credential_name, one.metadata) == ("Renamed", {"team": "ml"})


def test_a_new_setup_after_delete_starts_blank(svc: IntegrationService) -> None:
    svc.setup(ORG, "gcp", service_account_json("sa@p.iam.gserviceaccount.com"), credential_name="SA", metadata={"a": 1})
    svc.delete(ORG, "gcp")
    svc.setup(ORG, "gcp", service_account_json("sa@p.iam.gserviceaccount.com"))
    one = svc.get_one(ORG, "gcp")
    assert (one.credential_name, one.metadata) == (None, {})
