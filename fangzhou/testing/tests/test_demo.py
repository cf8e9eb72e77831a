"""The demo hook builds a full round through the services."""

from __future__ import annotations

import pytest

from fangzhou.cases.models import Case
from fangzhou.registry.tests.factories import World
from fangzhou.testing.demo import demo_testing_seed
from fangzhou.testing.models import AntigenReport, AntigenSubmission, LabResult, Retest

pytestmark = pytest.mark.django_db


def test_demo_round(world: World) -> None:
    demo = demo_testing_seed(community=world.community, seed=1)
    assert demo.tubes >= 1 and LabResult.objects.filter(tube__round=demo.round).count() >= demo.tubes
    assert len(demo.positive_tubes) == 1
    assert len(demo.confirmed) == 1 and Case.objects.filter(community=world.community).count() == 1
    assert not Retest.objects.filter(status="pending", reason="positive_tube").exists()
    assert AntigenSubmission.objects.count() == demo.antigen_households
    assert AntigenReport.objects.values("household").distinct().count() == demo.antigen_households
    assert demo.round.slots.count() == 2  # both buildings scheduled
