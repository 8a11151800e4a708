/*
 * smtp_fx.h - the message the smtp unit tests build and vary.
 */
#ifndef COLDSEQ_SMTP_FX_H
#define COLDSEQ_SMTP_FX_H

#include <string.h>

#include "smtp/smtp.h"

static inline smtp_msg_spec base_spec(void)
{
	smtp_msg_spec m;

	memset(&m, 0, sizeof m);
	m.from_name = "Jürgen Müller";
	m.from_addr = "sales@Example.COM";
	m.to_name = "Ann Lee";
	m.to_addr = "ann@example.org";
	m.subject = "Grüße";
	m.text = "Hello Ann,\nsecond line\n";
	m.date_ms = 1767603600000LL; /* 2026-01-05T09:00:00Z */
	m.tz_offset_min = 60;
	return m;
}

#endif
