"""The HTTP layer, one job per module: ``transport`` (connections under the URL policy, sending,
cancellation), ``jsonbody`` (capped JSON answers), ``retry`` (the one retry loop), ``submit`` (the
money rule), ``polling``, ``download``, ``upload`` and ``urlmedia`` (URL inputs read to probe them).
``api.client.ProviderClient`` puts them together."""
