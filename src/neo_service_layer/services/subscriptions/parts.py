"""What the subscriptions service hands its routes and jobs."""

from __future__ import annotations

from dataclasses import dataclass

from neo_service_layer.services.subscriptions.adapters.metrics import DeliveryMetrics
from neo_service_layer.services.subscriptions.use_cases.manage import Subscriptions

#: the service's name in the registry
NAME = "subscriptions"


@dataclass(frozen=True, slots=True)
class SubscriptionParts:
    subscriptions: Subscriptions
    metrics: DeliveryMetrics
