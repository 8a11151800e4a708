/*
 * tz.c - civil time in an IANA time zone, through ICU's calendar.
 *
 * Thread safe: every call opens its own UCalendar (no setenv("TZ"), no
 * process-wide zone).  ICU's zone data decides offsets and DST.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

static UCalendar *open_zone(const char *tz, cs_err *err)
{
	UChar zid[128], canon[128];
	UErrorCode st = U_ZERO_ERROR;
	UBool is_system = 0;
	UCalendar *cal;

	if (tz == NULL || strlen(tz) >= sizeof zid / sizeof zid[0]) {
		cs_err_set(err, CS_EINVAL, "\"%s\" is not an IANA time zone",
		           tz ? tz : "");
		return NULL;
	}
	u_uastrncpy(zid, tz, (int32_t)(sizeof zid / sizeof zid[0]));
	ucal_getCanonicalTimeZoneID(zid, -1, canon,
	                            (int32_t)(sizeof canon / sizeof canon[0]),
	                            &is_system, &st);
	if (U_FAILURE(st) || !is_system) {
		cs_err_set(
		    err, CS_EINVAL,
		    "\"%s\" is not an IANA time zone (e.g. Europe/Berlin, "
		    "America/New_York, UTC)",
		    tz);
		return NULL;
	}
	st = U_ZERO_ERROR;
	cal = ucal_open(zid, -1, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		cs_err_set(err, CS_EINVAL, "cannot open time zone %s: %s", tz,
		           u_errorName(st));
		return NULL;
	}
	return cal;
}

bool cs_tz_valid(const char *tz)
{
	UCalendar *cal = open_zone(tz, NULL);

	if (cal)
		ucal_close(cal);
	return cal != NULL;
}

int cs_tz_civil(const char *tz, int64_t t_ms, cs_civil *out, cs_err *err)
{
	UErrorCode st = U_ZERO_ERROR;
	UCalendar *cal = open_zone(tz, err);

	if (cal == NULL)
		return CS_EINVAL;
	ucal_setMillis(cal, (UDate)t_ms, &st);
	out->year = ucal_get(cal, UCAL_YEAR, &st);
	out->month = ucal_get(cal, UCAL_MONTH, &st) + 1;
	out->day = ucal_get(cal, UCAL_DATE, &st);
	out->hour = ucal_get(cal, UCAL_HOUR_OF_DAY, &st);
	out->minute = ucal_get(cal, UCAL_MINUTE, &st);
	out->second = ucal_get(cal, UCAL_SECOND, &st);
	out->wday = ucal_get(cal, UCAL_DAY_OF_WEEK, &st) - 1; /* 0 = Sunday */
	out->offset_min = (ucal_get(cal, UCAL_ZONE_OFFSET, &st) +
	                   ucal_get(cal, UCAL_DST_OFFSET, &st)) /
	                  60000;
	ucal_close(cal);
	if (U_FAILURE(st))
		return cs_err_set(err, CS_EINVAL, "time zone %s: %s", tz,
		                  u_errorName(st));
	return 0;
}

int cs_tz_day(const char *tz, int64_t t_ms, char out[11], cs_err *err)
{
	cs_civil c;
	int rc = cs_tz_civil(tz, t_ms, &c, err);

	if (rc == 0)
		snprintf(out, 11, "%04u-%02u-%02u", (unsigned)c.year % 10000u,
		         (unsigned)c.month % 100u, (unsigned)c.day % 100u);
	return rc;
}

int cs_tz_make(const char *tz, int year, int month, int day, int hour,
               int minute, int64_t *out_ms, cs_err *err)
{
	UErrorCode st = U_ZERO_ERROR;
	UCalendar *cal = open_zone(tz, err);

	if (cal == NULL)
		return CS_EINVAL;
	/* lenient: a wall time in a spring-forward gap moves past it, and
	 * day 32 rolls into the next month */
	ucal_clear(cal);
	ucal_setDateTime(cal, year, month - 1, day, hour, minute, 0, &st);
	*out_ms = (int64_t)ucal_getMillis(cal, &st);
	ucal_close(cal);
	if (U_FAILURE(st))
		return cs_err_set(err, CS_EINVAL, "time zone %s: %s", tz,
		                  u_errorName(st));
	return 0;
}

int cs_tz_add_days(const char *tz, int64_t t_ms, int days, int64_t *out_ms,
                   cs_err *err)
{
	UErrorCode st = U_ZERO_ERROR;
	UCalendar *cal = open_zone(tz, err);

	if (cal == NULL)
		return CS_EINVAL;
	ucal_setMillis(cal, (UDate)t_ms, &st);
	ucal_add(cal, UCAL_DATE, days, &st);
	*out_ms = (int64_t)ucal_getMillis(cal, &st);
	ucal_close(cal);
	if (U_FAILURE(st))
		return cs_err_set(err, CS_EINVAL, "time zone %s: %s", tz,
		                  u_errorName(st));
	return 0;
}
