/*
 * autoreply.c - RFC 3834 auto-replies and out-of-office notices, and the
 * return date they give.
 *
 * Evidence, strongest first: Auto-Submitted: auto-replied, X-Autoreply,
 * X-Autorespond, Precedence: auto_reply (a responder says so); an
 * out-of-office subject ("Automatic reply:", "Abwesenheitsnotiz",
 * "Réponse automatique", ...); weaker headers (Precedence: bulk|junk,
 * X-Auto-Response-Suppress, Auto-Submitted: auto-generated) together with
 * out-of-office wording; out-of-office wording alone only when the text
 * also gives a return date or calls itself an automatic reply.  So a
 * person who writes "I was out of office last week" in a reply is still a
 * reply.  Wording covers English, German, French, Spanish, Dutch,
 * Portuguese and Italian.
 *
 * The return date is the first date within a short distance after a
 * "back on / until / bis / jusqu'au / hasta / tot / até / fino al"-like
 * word, in the forms "14 December 2026", "December 14, 2026",
 * "14. Dezember", "14 de diciembre de 2026", "14.12.2026", "14/12/2026",
 * "2026-12-14".  A date without a year takes the year that puts it on or
 * after the message's Date.
 */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "cls_int.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libetpan/libetpan.h>

static const char *const ooo_subject[] = {
    "automatic reply",
    "auto-reply",
    "autoreply",
    "auto response",
    "auto-response",
    "autoresponse",
    "out of office",
    "ooo:",
    "abwesenheit",
    "automatische antwort",
    "réponse automatique",
    "reponse automatique",
    "absence",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "automatisch antwoord",
    "afwezig",
    "resposta automática",
    "resposta automatica",
    "risposta automatica",
    "fuori ufficio",
    "fuori sede",
    "vacation",
    "on holiday",
    "on leave",
    "urlaub",
    "congés",
    "vacaciones",
    "vakantie",
    "férias",
    "ferie",
    NULL,
};

static const char *const ooo_body[] = {
    /* en */
    "out of office",
    "away from the office",
    "away from my desk",
    "on vacation",
    "on holiday",
    "on leave",
    "annual leave",
    "parental leave",
    "maternity leave",
    "paternity leave",
    "limited access to e-mail",
    "limited access to my email",
    "i am away",
    "i'm away",
    "currently out",
    "i will be out",
    "i'll be out",
    "i am out",
    "back in the office",
    "no access to email",
    "without access to email",
    "away until",
    "travelling until",
    "traveling until",
    "out until",
    /* de */
    "abwesend",
    "nicht im büro",
    "außer haus",
    "ausser haus",
    "im urlaub",
    "abwesenheit",
    "nicht erreichbar",
    "nicht im hause",
    /* fr */
    "absent",
    "en congé",
    "en conge",
    "congés",
    "conges",
    "hors du bureau",
    "en vacances",
    "de retour le",
    /* es */
    "fuera de la oficina",
    "fuera de oficina",
    "ausente",
    "de vacaciones",
    "estaré fuera",
    "estare fuera",
    /* nl */
    "afwezig",
    "niet op kantoor",
    "met vakantie",
    "op vakantie",
    "niet aanwezig",
    "buiten kantoor",
    /* pt */
    "fora do escritório",
    "fora do escritorio",
    "de férias",
    "de ferias",
    "ausência",
    "ausencia",
    /* it */
    "fuori ufficio",
    "fuori sede",
    "in ferie",
    "assente",
    "in vacanza",
    NULL,
};

static const char *const auto_phrase[] = {
    "automatic reply",
    "automatic response",
    "auto-reply",
    "autoreply",
    "automated reply",
    "automated response",
    "this is an automated",
    "automatische antwort",
    "automatisch generiert",
    "réponse automatique",
    "reponse automatique",
    "respuesta automática",
    "respuesta automatica",
    "automatisch antwoord",
    "resposta automática",
    "resposta automatica",
    "risposta automatica",
    NULL,
};

static cls_phr ooo_subject_phr = CLS_PHR_ANY(ooo_subject);
static cls_phr ooo_body_phr = CLS_PHR_ANY(ooo_body);
static cls_phr auto_phrase_phr = CLS_PHR_ANY(auto_phrase);

/* Words after which a date is the return date. */
static const char *const triggers[] = {
    "back",    "return",   "until",  "till ",  "through", "thru",
    "after",   "bis",      "zurück", "zuruck", "wieder",  "ab dem",
    "ab ",     "retour",   "jusqu",  "hasta",  "regres",  "vuelta",
    "volver",  "terug",    "tot ",   "t/m",    "até",     "ate ",
    "retorno", "regresso", "volto",  "fino a", "rientr",  NULL,
};

static const struct month_name {
	const char *name;
	int month;
} months[] = {
    {"january", 1},
    {"januar", 1},
    {"janvier", 1},
    {"enero", 1},
    {"januari", 1},
    {"janeiro", 1},
    {"gennaio", 1},
    {"jänner", 1},
    {"february", 2},
    {"februar", 2},
    {"février", 2},
    {"fevrier", 2},
    {"febrero", 2},
    {"februari", 2},
    {"fevereiro", 2},
    {"febbraio", 2},
    {"march", 3},
    {"märz", 3},
    {"maerz", 3},
    {"mars", 3},
    {"marzo", 3},
    {"maart", 3},
    {"março", 3},
    {"marco", 3},
    {"april", 4},
    {"avril", 4},
    {"abril", 4},
    {"aprile", 4},
    {"may", 5},
    {"mai", 5},
    {"mayo", 5},
    {"mei", 5},
    {"maio", 5},
    {"maggio", 5},
    {"june", 6},
    {"juni", 6},
    {"juin", 6},
    {"junio", 6},
    {"junho", 6},
    {"giugno", 6},
    {"july", 7},
    {"juli", 7},
    {"juillet", 7},
    {"julio", 7},
    {"julho", 7},
    {"luglio", 7},
    {"august", 8},
    {"août", 8},
    {"aout", 8},
    {"agosto", 8},
    {"augustus", 8},
    {"september", 9},
    {"septembre", 9},
    {"septiembre", 9},
    {"setembro", 9},
    {"settembre", 9},
    {"october", 10},
    {"oktober", 10},
    {"octobre", 10},
    {"octubre", 10},
    {"outubro", 10},
    {"ottobre", 10},
    {"november", 11},
    {"novembre", 11},
    {"noviembre", 11},
    {"novembro", 11},
    {"december", 12},
    {"dezember", 12},
    {"décembre", 12},
    {"decembre", 12},
    {"diciembre", 12},
    {"dezembro", 12},
    {"dicembre", 12},
    /* abbreviations that are not also common words */
    {"jan", 1},
    {"janv", 1},
    {"ene", 1},
    {"gen", 1},
    {"feb", 2},
    {"févr", 2},
    {"fev", 2},
    {"mar", 3},
    {"mrt", 3},
    {"apr", 4},
    {"avr", 4},
    {"abr", 4},
    {"jun", 6},
    {"giu", 6},
    {"jul", 7},
    {"juil", 7},
    {"lug", 7},
    {"aug", 8},
    {"sep", 9},
    {"sept", 9},
    {"oct", 10},
    {"okt", 10},
    {"ott", 10},
    {"nov", 11},
    {"dec", 12},
    {"dez", 12},
    {"déc", 12},
    {"dic", 12},
    {NULL, 0},
};

static bool word_char(unsigned char ch)
{
	return isalpha(ch) || ch >= 0x80;
}

/* A month name as the whole word at s[0..n); returns 1-12 or 0, *len the
 * word's length (a trailing '.' of an abbreviation included). */
static int month_at(const char *s, size_t n, size_t *len)
{
	size_t w = 0;
	int i;

	while (w < n && word_char((unsigned char)s[w]))
		w++;
	if (w == 0)
		return 0;
	for (i = 0; months[i].name; i++)
		if (strlen(months[i].name) == w &&
		    memcmp(s, months[i].name, w) == 0) {
			*len = w + (w < n && s[w] == '.');
			return months[i].month;
		}
	return 0;
}

static size_t number_at(const char *s, size_t n, int *v)
{
	size_t i = 0;

	*v = 0;
	while (i < n && i < 4 && isdigit((unsigned char)s[i]))
		*v = *v * 10 + (s[i++] - '0');
	if (i < n && isdigit((unsigned char)s[i]))
		return 0; /* longer than 4 digits: not a date part */
	return i;
}

static bool valid(int y, int m, int d)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
	                            31, 31, 30, 31, 30, 31};

	if (y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1)
		return false;
	if (m == 2 && d == 29)
		return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1];
}

/* Skip spaces, commas, "de", "the", "of", ordinal suffixes. */
static size_t skip_filler(const char *s, size_t n, size_t i)
{
	static const char *const fill[] = {"de ", "del ", "the ", "of ", "st ",
	                                   "nd ", "rd ",  "th ",  "st,", "nd,",
	                                   "rd,", "th,",  "er ",  "e ",  NULL};
	for (;;) {
		int k;
		bool moved = false;

		while (i < n && (s[i] == ' ' || s[i] == ',' || s[i] == '.'))
			i++, moved = true;
		for (k = 0; fill[k]; k++) {
			size_t fl = strlen(fill[k]);

			if (n - i >= fl && memcmp(s + i, fill[k], fl) == 0) {
				i += fl - (fill[k][fl - 1] == ',' ? 1 : 0);
				moved = true;
				break;
			}
		}
		if (!moved)
			return i;
	}
}

/* Parse one date starting at s[0..n) (after fillers).  year 0 = none. */
static bool date_at(const char *s, size_t n, int *y, int *m, int *d)
{
	size_t i = 0, l, ml;
	int a, b, c;

	*y = 0;
	if ((l = number_at(s, n, &a)) > 0) {
		i = l;
		/* 2026-12-14 */
		if (l == 4 && i < n && s[i] == '-' &&
		    (l = number_at(s + i + 1, n - i - 1, &b)) > 0 &&
		    i + 1 + l < n && s[i + 1 + l] == '-' &&
		    number_at(s + i + 2 + l, n - i - 2 - l, &c) > 0) {
			*y = a, *m = b, *d = c;
			return true;
		}
		if (l > 2)
			return false;
		/* 14.12.2026, 14/12/2026, 14-12-26, 14.12. */
		if (i < n && (s[i] == '.' || s[i] == '/' || s[i] == '-') &&
		    (l = number_at(s + i + 1, n - i - 1, &b)) > 0 && l <= 2) {
			char sep = s[i];

			i += 1 + l;
			c = 0;
			if (i < n && s[i] == sep)
				(void)number_at(s + i + 1, n - i - 1, &c);
			if (c > 0 && c < 100)
				c += 2000;
			/* day first unless that cannot be a date */
			if (a <= 12 && b > 12)
				*m = a, *d = b;
			else
				*d = a, *m = b;
			*y = c;
			return *m >= 1 && *m <= 12;
		}
		/* 14 December 2026, 14. Dezember, 14 de diciembre de 2026 */
		i = skip_filler(s, n, i);
		if ((*m = month_at(s + i, n - i, &ml)) > 0) {
			*d = a;
			i = skip_filler(s, n, i + ml);
			if (number_at(s + i, n - i, &c) == 4)
				*y = c;
			return true;
		}
		return false;
	}
	/* December 14, 2026 */
	if ((*m = month_at(s, n, &ml)) > 0) {
		i = skip_filler(s, n, ml);
		if ((l = number_at(s + i, n - i, &a)) == 0 || l > 2)
			return false;
		*d = a;
		i = skip_filler(s, n, i + l);
		if (number_at(s + i, n - i, &c) == 4)
			*y = c;
		return true;
	}
	return false;
}

/* Skip weekday names ("monday", "montag", "lundi", ...) at s. */
static size_t skip_weekday(const char *s, size_t n)
{
	static const char *const days[] = {
	    "monday",       "tuesday",       "wednesday",   "thursday",
	    "friday",       "saturday",      "sunday",      "montag",
	    "dienstag",     "mittwoch",      "donnerstag",  "freitag",
	    "samstag",      "sonntag",       "lundi",       "mardi",
	    "mercredi",     "jeudi",         "vendredi",    "samedi",
	    "dimanche",     "lunes",         "martes",      "miércoles",
	    "miercoles",    "jueves",        "viernes",     "sábado",
	    "sabado",       "domingo",       "maandag",     "dinsdag",
	    "woensdag",     "donderdag",     "vrijdag",     "zaterdag",
	    "zondag",       "segunda-feira", "terça-feira", "quarta-feira",
	    "quinta-feira", "sexta-feira",   "lunedì",      "martedì",
	    "mercoledì",    "giovedì",       "venerdì",     "sabato",
	    "domenica",     "mon",           "tue",         "wed",
	    "thu",          "fri",           "sat",         "sun",
	    NULL,
	};
	size_t w = 0;
	int i;

	while (w < n && (word_char((unsigned char)s[w]) || s[w] == '-'))
		w++;
	for (i = 0; days[i]; i++)
		if (strlen(days[i]) == w && memcmp(s, days[i], w) == 0)
			return w;
	return 0;
}

bool cls_return_date(const char *flat, size_t n, int year_hint, int month_hint,
                     int day_hint, char out[11])
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *const *t;

		if (i > 0 && word_char((unsigned char)flat[i - 1]))
			continue;
		for (t = triggers; *t; t++) {
			size_t tl, j, end;

			if (flat[i] != (*t)[0])
				continue; /* most words start otherwise */
			tl = strlen(*t);
			if (n - i < tl || memcmp(flat + i, *t, tl) != 0)
				continue;
			/* look for a date in the next few words */
			end = i + tl + 48 < n ? i + tl + 48 : n;
			for (j = i + tl; j < end; j++) {
				int y, m, d;
				size_t k = j, w;

				if (j > 0 &&
				    (word_char((unsigned char)flat[j - 1]) ||
				     isdigit((unsigned char)flat[j - 1])))
					continue;
				if ((w = skip_weekday(flat + k, n - k)) > 0)
					k = skip_filler(flat, n, k + w);
				if (!date_at(flat + k, n - k, &y, &m, &d))
					continue;
				if (y == 0) {
					if (year_hint == 0)
						continue;
					y = year_hint;
					if (m < month_hint ||
					    (m == month_hint && d < day_hint))
						y++;
				}
				if (!valid(y, m, d))
					continue;
				snprintf(out, 11, "%04d-%02d-%02d", y % 10000,
				         m % 100, d % 100);
				return true;
			}
		}
	}
	return false;
}

static bool hdr_is(const cls_msg *m, const char *name, cs_buf *v)
{
	size_t n;
	const char *s = cls_msg_hdr(m, name, &n);

	cs_buf_clear(v);
	if (s == NULL)
		return false;
	cs_buf_append(v, s, n);
	return true;
}

/* The message's Date as y/m/d (zeros when absent or unreadable: then
 * today's date stands in). */
static void message_date(const cls_msg *m, int *y, int *mo, int *d)
{
	cs_buf v = CS_BUF_INIT;
	struct mailimf_date_time *dt = NULL;
	size_t idx = 0;

	*y = *mo = *d = 0;
	if (hdr_is(m, "Date", &v) &&
	    mailimf_date_time_parse(v.data, v.len, &idx, &dt) ==
	        MAILIMF_NO_ERROR &&
	    dt) {
		*y = dt->dt_year < 100 ? dt->dt_year + 2000 : dt->dt_year;
		*mo = dt->dt_month;
		*d = dt->dt_day;
		mailimf_date_time_free(dt);
	}
	if (*y < 2000 || *y > 2100) {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		*y = tm.tm_year + 1900;
		*mo = tm.tm_mon + 1;
		*d = tm.tm_mday;
	}
	cs_buf_free(&v);
}

bool cls_autoreply_detect(const cls_msg *m, cls_class *c, const char *fresh,
                          size_t freshlen)
{
	cs_buf v = CS_BUF_INIT, subj = CS_BUF_INIT;
	bool strong = false, weak = false, subj_ooo, body_ooo, yes;
	int y, mo, d;

	if (hdr_is(m, "Auto-Submitted", &v)) {
		if (strncasecmp(v.data, "auto-replied", 12) == 0)
			strong = true;
		else if (strncasecmp(v.data, "no", 2) != 0)
			weak = true;
	}
	if ((hdr_is(m, "X-Autoreply", &v) && strcasecmp(v.data, "no") != 0) ||
	    hdr_is(m, "X-Autorespond", &v) || hdr_is(m, "X-Autoresponder", &v))
		strong = true;
	if (hdr_is(m, "Precedence", &v)) {
		if (strncasecmp(v.data, "auto_reply", 10) == 0)
			strong = true;
		else if (strncasecmp(v.data, "bulk", 4) == 0 ||
		         strncasecmp(v.data, "junk", 4) == 0)
			weak = true;
	}
	if (hdr_is(m, "X-Auto-Response-Suppress", &v) ||
	    hdr_is(m, "X-MS-Exchange-Inbox-Rules-Loop", &v))
		weak = true;
	if (c->subject)
		cls_flatten(c->subject, strlen(c->subject), &subj);
	subj_ooo = subj.len && cls_phr_find(&ooo_subject_phr, subj.data,
	                                    subj.len, NULL) >= 0;
	body_ooo =
	    freshlen && cls_phr_find(&ooo_body_phr, fresh, freshlen, NULL) >= 0;
	message_date(m, &y, &mo, &d);
	c->return_date[0] = '\0';
	if (body_ooo || subj_ooo || strong)
		(void)cls_return_date(fresh, freshlen, y, mo, d,
		                      c->return_date);
	yes = strong || subj_ooo || (weak && body_ooo) ||
	      (body_ooo &&
	       (c->return_date[0] ||
	        cls_phr_find(&auto_phrase_phr, fresh, freshlen, NULL) >= 0));
	if (!yes)
		c->return_date[0] = '\0';
	cs_buf_free(&v);
	cs_buf_free(&subj);
	return yes;
}
