/*
 * seq_time.c - the calendar rules of scheduling: step delays, sending
 * windows, and which domains are free mail.
 *
 * Wall-clock arithmetic goes through ICU (core/tz.c), so "1 day" after
 * 10:00 the day before a DST change is 10:00 the next day (23 or 25 hours
 * later), and a window of 09:00-17:00 is 09:00-17:00 local on both sides
 * of the change.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <string.h>
#include <strings.h>

int seq_delay_apply(const char *tz, int64_t from, int amount, const char *unit,
                    int64_t *out, cs_err *err)
{
	cs_civil c;
	int64_t t = from;
	int rc, left = amount, guard = 0;

	if (strcmp(unit, "minutes") == 0) {
		*out = from + (int64_t)amount * 60000;
		return 0;
	}
	if (strcmp(unit, "hours") == 0) {
		*out = from + (int64_t)amount * 3600000;
		return 0;
	}
	if (strcmp(unit, "days") == 0)
		return cs_tz_add_days(tz, from, amount, out, err);
	/* business days: each counted day is Monday to Friday */
	while (left > 0 && guard++ < 4 * 3650) {
		if ((rc = cs_tz_add_days(tz, t, 1, &t, err)) != 0 ||
		    (rc = cs_tz_civil(tz, t, &c, err)) != 0)
			return rc;
		if (c.wday != 0 && c.wday != 6)
			left--;
	}
	*out = t;
	return 0;
}

int seq_window_next(const db_campaign *c, const char *tz, int64_t t,
                    int64_t *open, int64_t *close, cs_err *err)
{
	cs_civil cv;
	int rc, k, mod;

	if ((rc = cs_tz_civil(tz, t, &cv, err)) != 0)
		return rc;
	mod = cv.hour * 60 + cv.minute;
	for (k = 0; k < 8; k++) {
		int w = (cv.wday + k) % 7;
		int64_t o, e;

		if (!(c->window_days & (1 << w)))
			continue;
		if (k == 0 && mod >= c->window_to)
			continue;
		if ((rc = cs_tz_make(tz, cv.year, cv.month, cv.day + k,
		                     c->window_from / 60, c->window_from % 60,
		                     &o, err)) != 0 ||
		    (rc = cs_tz_make(tz, cv.year, cv.month, cv.day + k,
		                     c->window_to / 60, c->window_to % 60, &e,
		                     err)) != 0)
			return rc;
		if (e <= t) /* a DST change made the end earlier than t */
			continue;
		*open = o > t ? o : t;
		*close = e;
		return 0;
	}
	return cs_err_set(err, CS_EINVAL,
	                  "campaign '%s' has a window with no day in it",
	                  c->name);
}

bool seq_is_freemail(const char *domain)
{
	return cs_provider_is_freemail(domain);
}
