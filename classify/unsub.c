/*
 * unsub.c - requests to stop: our List-Unsubscribe mailto, or a person
 * asking to be removed; and where a reply's own words end.
 *
 * Our sent mail carries List-Unsubscribe: <mailto:INBOX?subject=
 * unsubscribe%20TOKEN> (RFC 2369/8058), TOKEN an HMAC in URL-safe base64
 * (16-64 characters of [A-Za-z0-9_-]).  A message whose subject is exactly
 * "unsubscribe TOKEN" (any case, any white space around, a "Re:" left in
 * front by a mail client allowed) is that request and returns the token.
 * Otherwise removal wording in the person's own text (above the quoted
 * message, so the footer of our own mail quoted back never counts) is a
 * request without a token: "unsubscribe", "remove me", "take me off",
 * "stop emailing" and the like in the seven languages.
 */
#include "cls_int.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const remove_words[] = {
    /* en */
    "unsubscribe",
    "remove me",
    "remove my",
    "take me off",
    "opt me out",
    "opt out",
    "opt-out",
    "stop emailing",
    "stop e-mailing",
    "stop sending",
    "stop contacting",
    "do not contact me",
    "don't contact me",
    "do not email me",
    "don't email me",
    "do not e-mail me",
    "no more emails",
    "not interested, remove",
    "delete my email",
    "delete my address",
    /* de */
    "abmelden",
    "austragen",
    "abbestellen",
    "keine weiteren e-mails",
    "keine e-mails mehr",
    "keine emails mehr",
    "entfernen sie mich",
    "bitte entfernen",
    "nicht mehr kontaktieren",
    "nicht mehr anschreiben",
    /* fr */
    "désabonner",
    "desabonner",
    "désinscrire",
    "desinscrire",
    "désinscription",
    "desinscription",
    "retirez-moi",
    "retirez moi",
    "supprimez-moi",
    "ne plus recevoir",
    "ne plus me contacter",
    /* es */
    "darme de baja",
    "dar de baja",
    "dadme de baja",
    "denme de baja",
    "eliminarme",
    "elimíname",
    "eliminame",
    "no me envíe",
    "no me envie",
    "no quiero recibir",
    "no me contacte",
    /* nl */
    "afmelden",
    "uitschrijven",
    "verwijder mij",
    "verwijder me",
    "geen e-mails meer",
    "geen mails meer",
    "niet meer mailen",
    /* pt */
    "descadastrar",
    "descadastre",
    "cancelar inscrição",
    "cancelar inscricao",
    "remover da lista",
    "me remova",
    "remova-me",
    "não quero receber",
    "nao quero receber",
    "parem de enviar",
    /* it */
    "disiscrivere",
    "disiscrivermi",
    "cancellarmi",
    "cancellami",
    "rimuovermi",
    "rimuovetemi",
    "non voglio ricevere",
    "non contattatemi",
    NULL,
};

/* Lines that start the quoted original in a reply (flattened text). */
static const char *const quote_marks[] = {
    " wrote:",
    " schrieb:",
    " schrieb ",
    " a écrit",
    " a ecrit",
    " escribió:",
    " escribio:",
    " schreef:",
    " escreveu:",
    " ha scritto:",
    "-----original message-----",
    "----- original message -----",
    "-----ursprüngliche nachricht-----",
    "-----message d'origine-----",
    "-----mensaje original-----",
    "-----oorspronkelijk bericht-----",
    "-----mensagem original-----",
    "-----messaggio originale-----",
    "________________________________",
    /* cite: Microsoft Outlook's reply header block ("From:", "Sent:"),
     * then the same in German, French/Spanish/Portuguese, Italian, Dutch */
    " from: ",
    " von: ",
    " de: ",
    " da: ",
    " van: ",
    " sent from my",
    NULL,
};

static cls_phr quote_phr = CLS_PHR_ANY(quote_marks);
static cls_phr remove_phr = CLS_PHR_ANY(remove_words);

size_t cls_fresh_len(const char *flat, size_t n)
{
	size_t best = n;
	const char *gt, *p;

	/* the earliest mark of a quoted message */
	if (cls_phr_find(&quote_phr, flat, n, &p) >= 0)
		best = (size_t)(p - flat);
	/* "> quoted" lines: after flattening, a '>' that starts a word */
	gt = memchr(flat, '>', best);
	while (gt) {
		if (gt == flat || gt[-1] == ' ') {
			best = (size_t)(gt - flat);
			break;
		}
		gt = memchr(gt + 1, '>', best - (size_t)(gt + 1 - flat));
	}
	return best;
}

static bool token_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-';
}

/* "unsubscribe TOKEN" as the whole subject (after Re:/AW: prefixes). */
static char *subject_token(const char *s)
{
	const char *p = s, *t;
	size_t n;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (strncasecmp(p, "re:", 3) == 0 ||
		    strncasecmp(p, "aw:", 3) == 0)
			p += 3;
		else if (strncasecmp(p, "re :", 4) == 0)
			p += 4;
		else
			break;
	}
	if (strncasecmp(p, "unsubscribe", 11) != 0 ||
	    !isspace((unsigned char)p[11]))
		return NULL;
	p += 11;
	while (isspace((unsigned char)*p))
		p++;
	t = p;
	while (token_char(*p))
		p++;
	n = (size_t)(p - t);
	while (isspace((unsigned char)*p))
		p++;
	if (*p != '\0' || n < 16 || n > 64)
		return NULL;
	return cs_xstrndup(t, n);
}

bool cls_unsub_detect(const cls_class *c, const char *fresh, size_t freshlen,
                      char **token)
{
	*token = NULL;
	if (c->subject) {
		cs_buf subj = CS_BUF_INIT;
		bool bare;

		*token = subject_token(c->subject);
		if (*token)
			return true;
		/* a subject that starts with "unsubscribe" or is "remove" */
		cls_flatten(c->subject, strlen(c->subject), &subj);
		bare = strncmp(cs_buf_str(&subj), "unsubscribe", 11) == 0 ||
		       strcmp(cs_buf_str(&subj), "remove") == 0 ||
		       strcmp(cs_buf_str(&subj), "remove me") == 0 ||
		       strcmp(cs_buf_str(&subj), "re: unsubscribe") == 0;
		cs_buf_free(&subj);
		if (bare)
			return true;
	}
	return freshlen &&
	       cls_phr_find(&remove_phr, fresh, freshlen, NULL) >= 0;
}
