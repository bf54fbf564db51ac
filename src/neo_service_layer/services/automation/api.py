"""The automation service's public interface for other services: the event trigger of tenant jobs (an
N3 contract notification with argument filters) and how its values are shown as JSON. The
subscriptions service's chain source matches notifications with exactly these rules."""

from __future__ import annotations

from neo_service_layer.services.automation.rules.cron import InvalidTrigger
from neo_service_layer.services.automation.rules.job_triggers import EventFilter, JobEvent, json_safe

__all__ = ["EventFilter", "InvalidTrigger", "JobEvent", "json_safe"]
