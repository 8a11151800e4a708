/*
 * clock.c - real and simulated clocks, and ISO 8601 instants.
 *
 * A simulated clock is a line through (mono_base, start) with slope
 * `speed`, shifted by whatever cs_clock_advance added:
 *     now = start + (mono_now - mono_base) * speed + offset
 * so it never goes backwards, and with speed 0 it moves only when told.
 */
#define _POSIX_C_SOURCE 200809L
#include "core.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cs_clock {
	bool sim;
	pthread_mutex_t lock;
	int64_t start_ms;
	int64_t mono_base;
	double speed;
	int64_t offset;
};

static int64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cs_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

cs_clock *cs_clock_new_real(void)
{
	cs_clock *c = cs_xcalloc(1, sizeof *c);

	pthread_mutex_init(&c->lock, NULL);
	return c;
}

cs_clock *cs_clock_new_sim(int64_t start_ms, double speed)
{
	cs_clock *c = cs_clock_new_real();

	c->sim = true;
	c->start_ms = start_ms;
	c->mono_base = cs_mono_ms();
	c->speed = speed < 0 ? 0 : speed;
	return c;
}

void cs_clock_free(cs_clock *c)
{
	if (c) {
		pthread_mutex_destroy(&c->lock);
		free(c);
	}
}

bool cs_clock_is_sim(const cs_clock *c)
{
	return c && c->sim;
}

static int64_t sim_now_locked(const cs_clock *c)
{
	double run = (double)(cs_mono_ms() - c->mono_base) * c->speed;

	return c->start_ms + (int64_t)run + c->offset;
}

int64_t cs_clock_now(cs_clock *c)
{
	int64_t t;

	if (c == NULL || !c->sim)
		return real_ms();
	pthread_mutex_lock(&c->lock);
	t = sim_now_locked(c);
	pthread_mutex_unlock(&c->lock);
	return t;
}

int cs_clock_advance(cs_clock *c, int64_t delta_ms)
{
	if (!cs_clock_is_sim(c) || delta_ms < 0)
		return CS_EINVAL;
	pthread_mutex_lock(&c->lock);
	c->offset += delta_ms;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

int cs_clock_advance_to(cs_clock *c, int64_t t_ms)
{
	int64_t now;

	if (!cs_clock_is_sim(c))
		return CS_EINVAL;
	pthread_mutex_lock(&c->lock);
	now = sim_now_locked(c);
	if (t_ms > now)
		c->offset += t_ms - now;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

/* Howard Hinnant's days_from_civil. */
int64_t cs_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void cs_time_iso8601(int64_t t_ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(t_ms >= 0 ? t_ms / 1000 : (t_ms - 999) / 1000);
	int ms = (int)(t_ms - (int64_t)secs * 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, ms);
}

/* Read exactly n digits at *p; returns -1 when they are not there. */
static int digits(const char **p, int n)
{
	int v = 0;

	while (n--) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	return v;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30,
	                         31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : dm[m - 1];
}

int cs_time_parse_iso8601(const char *s, int64_t *out_ms, cs_err *err)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;

	y = digits(&p, 4);
	if (y < 0 || *p++ != '-')
		goto bad;
	mo = digits(&p, 2);
	if (mo < 1 || mo > 12 || *p++ != '-')
		goto bad;
	d = digits(&p, 2);
	if (d < 1 || d > days_in_month(y, mo))
		goto bad;
	if (*p == '\0')
		goto done;
	if (*p != 'T' && *p != 't' && *p != ' ')
		goto bad;
	p++;
	h = digits(&p, 2);
	if (h < 0 || h > 23 || *p++ != ':')
		goto bad;
	mi = digits(&p, 2);
	if (mi < 0 || mi > 59)
		goto bad;
	if (*p == ':') {
		p++;
		sec = digits(&p, 2);
		if (sec < 0 || sec > 60)
			goto bad;
		if (*p == '.') {
			int n = 0, scale = 100;

			p++;
			while (isdigit((unsigned char)*p)) {
				if (n++ < 3) {
					ms += (*p - '0') * scale;
					scale /= 10;
				}
				p++;
			}
			if (n == 0)
				goto bad;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;

		oh = digits(&p, 2);
		if (*p == ':')
			p++;
		om = digits(&p, 2);
		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			goto bad;
		off = sign * (oh * 60 + om);
	} else {
		goto bad; /* a time needs its zone: never guess local time */
	}
	if (*p != '\0')
		goto bad;
done:
	*out_ms =
	    ((cs_days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
	      (int64_t)mi * 60 + (sec > 59 ? 59 : sec) - (int64_t)off * 60) *
	     1000) +
	    ms;
	return 0;
bad:
	return cs_err_set(err, CS_EINVAL,
	                  "\"%s\" is not an ISO 8601 instant (expected e.g. "
	                  "2026-01-05T09:00:00Z or 2026-01-05)",
	                  s);
}
