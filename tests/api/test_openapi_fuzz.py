"""Schemathesis against the OpenAPI document: generated requests, valid and invalid, to
every public operation, on SQLite and PostgreSQL. A 5xx, an answer the document does not
describe, or a valid request refused fails the test. Bounded and seeded (the same cases
every run), so it is a test, not a search."""

from __future__ import annotations

import itertools

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from sqlalchemy.orm import Session

from tests import factories
from tests.conftest import make_site

EXAMPLES_PER_OPERATION = 30


def test_no_generated_request_breaks_the_api_or_its_document(app: Flask, session: Session) -> None:
    site = make_site(session, "blog")
    factories.submit(session, site, "a comment to find", thread="t")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    # U+0000 is refused (422) everywhere because PostgreSQL cannot store it; the tests
    # of bad input cover that, so generated strings leave it out.
    schema.config.generation.update(allow_x00=False)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
                  database=None, suppress_health_check=list(HealthCheck))  # fmt: skip
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate()

        try:
            call()
        except Unsatisfiable:
            # No invalid request exists for an operation without parameters (/healthz).
            assert mode == GenerationMode.NEGATIVE, operation.label
        except (Exception, BaseExceptionGroup) as failure:
            failures.append(f"{operation.label} ({mode.value} cases): {failure}")
    assert not failures, "\n\n".join(failures)
