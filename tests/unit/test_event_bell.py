"""The event bell: a job's waker hears every ring; a stream's ``next_ring`` hears its own tenant's ring
(or a ring for every tenant, as after the listener reconnects) once, and no other tenant's."""

from __future__ import annotations

from neo_service_layer.kernel.events.bell import EventBell


def test_a_waker_hears_every_ring_and_a_stream_only_its_tenants() -> None:
    bell = EventBell()
    waker = bell.waker()
    acme, other = bell.next_ring("acme"), bell.next_ring("other")
    assert bell.next_ring("acme") is acme  # streams of one tenant share the ring
    bell.ring("acme")
    assert waker.is_set()
    assert acme.is_set()
    assert not other.is_set()
    again = bell.next_ring("acme")
    assert again is not acme  # one shot: the next read takes a fresh one
    assert not again.is_set()
    waker.clear()
    bell.ring(None)
    assert waker.is_set()
    assert other.is_set()
    assert again.is_set()
