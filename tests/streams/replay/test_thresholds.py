"""The population's thresholds of a replay applied by several processes: every process's buyers, merged."""

from __future__ import annotations

import pytest

from agents.config import config_from_mapping
from agents.models.population import ValueSketch
from streams.replay.thresholds import Population, Request, Requests

pytestmark = pytest.mark.unit

DAY = 86_400
CONFIG = config_from_mapping({"model": {"best_customers": {"min_buyers": 3}, "best_customer_quantile": 0.5}})


def sketch(*values: float) -> dict[str, object]:
    made = ValueSketch(CONFIG.model.best_customers.relative_accuracy)
    for value in values:
        made.add(value)
    return made.to_json()


def close_to(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= 0.01 * expected


def test_a_threshold_is_the_quantile_of_every_processs_buyers_together() -> None:
    population = Population(CONFIG, processes=2)
    population.report(0, DAY, {DAY: sketch(10.0, 20.0)})
    assert population.ready_until() is None, "the other process has sketched nothing yet"
    with pytest.raises(ValueError, match="not known yet"):
        population.thresholds(None, DAY)
    population.report(1, 2 * DAY, {DAY: sketch(30.0), 2 * DAY: sketch(5.0, 6.0)})
    assert population.ready_until() == DAY
    thresholds = population.thresholds(None, DAY)
    assert thresholds.keys() == {DAY}
    assert close_to(thresholds[DAY], 20.0)  # the median of 10, 20 and 30


def test_a_boundary_with_fewer_buyers_than_needed_has_no_threshold() -> None:
    population = Population(CONFIG, processes=2)
    population.report(0, 3 * DAY, {DAY: sketch(10.0), 3 * DAY: sketch(1.0, 2.0, 3.0)})
    # Process 1 had no buyer at any of these boundaries: it sends no sketch, only how far it came.
    population.report(1, 3 * DAY, {})
    assert population.thresholds(None, 3 * DAY).keys() == {3 * DAY}
    assert population.thresholds(3 * DAY, 3 * DAY) == {}, "only boundaries after the first argument"


def test_a_request_waits_until_every_process_has_sketched_and_passed_what_it_wants() -> None:
    requests = Requests(Population(CONFIG, processes=2), processes=2)
    # Each process says where its rows start: process 0 on day 3, process 1 on day 1.
    assert requests.serve(0, Request(3 * DAY, {2 * DAY: sketch(10.0, 20.0, 30.0)}, 0, None, 3 * DAY)) == []
    assert requests.serve(1, Request(DAY, {}, -DAY, None, DAY)) == []
    # Process 0 wants day 2's threshold; process 1 has neither sketched day 2 nor passed it.
    assert requests.serve(0, Request(3 * DAY, {}, 0, 2 * DAY, 3 * DAY + 5)) == []
    # Process 1 reaches day 2 plus a minute (the lateness is 2 s): both requests are answered, in order.
    answers = requests.serve(1, Request(2 * DAY, {2 * DAY: sketch(40.0)}, -DAY, 2 * DAY, 2 * DAY + 60))
    assert [process for process, _ in answers] == [0, 1]
    known = answers[0][1]
    assert known.keys() == {DAY, 2 * DAY}
    threshold, first = known[2 * DAY]
    assert close_to(threshold, 20.0)  # rank 1 of 10, 20, 30 and 40
    assert first == 2 * DAY + 60, "the first row of either process past day 2 (plus the lateness)"
    assert known[DAY] == (None, 2 * DAY + 60), "day 1 had no buyer; process 0's first row came later"
    assert answers[1][1].keys() == {0, DAY, 2 * DAY}


def test_boundaries_no_row_passes_are_known_from_no_row() -> None:
    requests = Requests(Population(CONFIG, processes=1), processes=1)
    requests.serve(0, Request(DAY, {}, -DAY, None, DAY))
    # The first row, on day 1, learns day 0's threshold: known from that row on.
    ((_, known),) = requests.serve(0, Request(DAY, {}, -DAY, 0, DAY))
    assert known == {0: (None, DAY)}
    # The rows are done on day 1; the end wants the thresholds up to day 3.
    requests.serve(0, Request(3 * DAY, {3 * DAY: sketch(1.0, 2.0, 3.0)}, 0, None, None))
    (answer,) = requests.serve(0, Request(3 * DAY, {}, 0, 3 * DAY, None))
    assert answer[0] == 0
    assert {boundary: first for boundary, (_, first) in answer[1].items()} == {
        DAY: None,
        2 * DAY: None,
        3 * DAY: None,
    }
    assert close_to(answer[1][3 * DAY][0], 2.0)
