"""The seed samples (held in app/domain/samples.py), as the compat routes' OpenAPI examples."""

from app.domain.samples import DPLANS_PAYLOAD_SAMPLE, PLANS_SAMPLE, STUDENT_EXAMPLE, TERMS_SAMPLE

__all__ = ["DPLANS_PAYLOAD_SAMPLE", "PLANS_SAMPLE", "STUDENT_EXAMPLE", "TERMS_SAMPLE"]
