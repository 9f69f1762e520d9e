"""AlertSinkContract: the webhook adapter (real HTTP to receivers on loopback) and the recording fake behave alike:
they reach the destinations configured and no other, deliver one signed post per digest carrying its class, send
nothing for an empty digest, and never put a webhook path or a signing secret in a payload or a delivery."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from integrations.alerts import OPERATOR, Budget, Digest, Notice, WebhookSink, tenant
from integrations.alerts.base import CLASS_HEADER, SIGNATURE_HEADER, AlertSink, signing_secret, verify
from integrations.domain import Provider, Status
from integrations.verdict import ProblemClass
from pydantic import SecretStr

from tests.fakes import RecordingSink
from tests.servers import Reply, serve

MASTER = "contract-master-secret-0123456789abcdef"
BUDGET = Budget(attempts=2, backoff_s=0.01, timeout_s=5.0, budget_s=5.0)
Received = Callable[[], list[tuple[str, dict[str, str], bytes]]]  # (destination, headers lower-cased, raw body)


def _flip(org: str = "acmecorp") -> Notice:
    return Notice(
        org_slug=org,
        provider=Provider.OPENAI,
        before=Status.VALID,
        after=Status.INVALID,
        error_code="INVALID_CREDENTIAL",
        credential_hint="sk-proj-...AbCd",
        problem_class=ProblemClass.TENANT_ACTION,
    )


def _alarm() -> Notice:
    return Notice(
        org_slug="globex",
        provider=Provider.OPENAI,
        before=Status.VALID,
        after=Status.VALID,
        error_code="KMS_KEY_VERSION_UNAVAILABLE",
        kind="alarm",
        problem_class=ProblemClass.OPERATOR_ACTION,
    )


class AlertSinkContract:
    @pytest.fixture
    def made(self) -> Iterator[tuple[AlertSink, Received]]:
        raise NotImplementedError

    def test_it_is_an_alert_sink_reaching_what_is_configured_only(self, made: tuple[AlertSink, Received]) -> None:
        sink, _ = made
        assert isinstance(sink, AlertSink)
        assert sink.reaches(OPERATOR) and sink.reaches(tenant("acmecorp")) and not sink.reaches(tenant("globex"))

    def test_one_signed_post_per_digest_carrying_its_class(self, made: tuple[AlertSink, Received]) -> None:
        sink, received = made
        tenant_digest = Digest(destination=tenant("acmecorp"), source="revalidate", run_id="bulk-1", items=[_flip()])
        ops_digest = Digest(destination=OPERATOR, source="revalidate", run_id="bulk-1", items=[_alarm(), _alarm()])
        first, second = sink.deliver(tenant_digest, BUDGET), sink.deliver(ops_digest, BUDGET)
        assert (first.delivered, first.attempts, first.flips, first.destination) == (True, 1, 1, "tenant acmecorp")
        assert (second.delivered, second.flips, second.destination) == (True, 2, "operator")
        posts = received()
        assert [p[0] for p in posts] == ["tenant", "operator"]
        for (_, headers, raw), digest in zip(posts, [tenant_digest, ops_digest], strict=True):
            secret = sink.signing_secret(digest.destination)
            assert secret == signing_secret(MASTER.encode(), digest.destination)
            assert verify(secret, headers[SIGNATURE_HEADER.lower()], raw)
            body = json.loads(raw)
            assert body["classes"] == digest.classes and headers[CLASS_HEADER.lower()] == ",".join(digest.classes)
            assert body["count"] == len(digest.items) and body["run_id"] == "bulk-1"
        assert json.loads(posts[0][2])["classes"] == ["tenant_action"]
        assert json.loads(posts[1][2])["classes"] == ["operator_action"]

    def test_nothing_is_sent_for_an_empty_digest_or_a_destination_not_configured(
        self, made: tuple[AlertSink, Received]
    ) -> None:
        sink, received = made
        empty = sink.deliver(Digest(destination=OPERATOR, source="revalidate", items=[]), BUDGET)
        elsewhere = sink.deliver(Digest(destination=tenant("globex"), source="revalidate", items=[_flip()]), BUDGET)
        assert (empty.attempts, empty.delivered, elsewhere.attempts, elsewhere.delivered) == (0, False, 0, False)
        assert received() == []

    def test_no_secret_in_a_payload_or_a_delivery(self, made: tuple[AlertSink, Received]) -> None:
        sink, received = made
        digest = Digest(destination=tenant("acmecorp"), source="validate", items=[_flip()])
        delivery = sink.deliver(digest, BUDGET)
        [(_, headers, raw)] = received()
        secret = sink.signing_secret(digest.destination)
        assert secret is not None
        shown = raw.decode() + json.dumps({k: v for k, v in headers.items() if k != SIGNATURE_HEADER.lower()})
        shown += delivery.model_dump_json()
        assert MASTER not in shown and secret not in shown and "HOOKSECRET" not in shown


class TestWebhookSink(AlertSinkContract):
    @pytest.fixture
    def made(self) -> Iterator[tuple[AlertSink, Received]]:
        with serve(lambda _: Reply(200, "ok")) as (ops, to_ops), serve(lambda _: Reply(200, "ok")) as (acme, to_acme):
            sink = WebhookSink(
                SecretStr(ops + "/ops/OPSHOOKSECRET"),
                {"acmecorp": SecretStr(acme + "/t/TENANTHOOKSECRET")},
                SecretStr(MASTER),
            )

            def received() -> list[tuple[str, dict[str, str], bytes]]:
                posts = [(p, "tenant") for p in to_acme] + [(p, "operator") for p in to_ops]
                return [(who, p.headers, p.body) for p, who in posts]

            yield sink, received


class TestRecordingSink(AlertSinkContract):
    @pytest.fixture
    def made(self) -> Iterator[tuple[AlertSink, Received]]:
        sink = RecordingSink(orgs={"acmecorp"}, master=MASTER.encode())

        def received() -> list[tuple[str, dict[str, str], bytes]]:
            return [(s.digest.destination.kind, {k.lower(): v for k, v in s.headers.items()}, s.raw) for s in sink.sent]

        yield sink, received
