"""The provider health panel: each account's circuit breaker, recent error rate and latency
(messaging.breaker's book) and delivery-report coverage (its messages)."""

from datetime import UTC, datetime, timedelta

from django.contrib.auth.decorators import permission_required
from django.shortcuts import render
from django.utils import timezone

from messaging import breaker
from messaging.models import ProviderAccount

from .selectors import dlr_coverage

COVERAGE_HOURS = 24


@permission_required("messaging.view_provideraccount", raise_exception=True)
def provider_health(request):
    coverage = dlr_coverage(since=timezone.now() - timedelta(hours=COVERAGE_HOURS))
    accounts = ProviderAccount.objects.select_related("generic").prefetch_related("failover_routes__route")
    rows = []
    for account in accounts:
        health = breaker.health(account)
        sent, reported = coverage.get(account.pk, (0, 0))
        config = getattr(account, "generic", None)
        rows.append({
            "account": account, "health": health,
            "until": datetime.fromtimestamp(health.until, UTC) if health.until else None,
            "routes": [entry.route for entry in account.failover_routes.all()],
            "sent": sent, "reported": reported, "coverage": round(100 * reported / sent, 1) if sent else None,
            "reports_expected": config is None or config.has_dlr,
        })
    return render(request, "providers/health.html", {
        "rows": rows, "enabled": breaker.enabled(), "window_seconds": breaker.window_seconds(),
        "health_minutes": breaker.health_seconds() // 60, "coverage_hours": COVERAGE_HOURS,
    })
