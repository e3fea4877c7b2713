"""The HTTP layer, one job per module: ``connections`` (every connection under the URL policy,
pinned to the checked address; the timeouts), ``transport`` (sending, capped answers, cleaned
provider errors, waits that notice an interrupt), ``jsonbody`` (the caps on
JSON answers), ``retry`` (the one retry loop), ``calls`` (calls safe to repeat), ``submit`` (the
paid submit and its money rule), ``polling``, ``download``, ``upload`` and ``urlmedia`` (URL inputs
read to learn their length). ``api.client.ProviderClient`` puts them together."""
