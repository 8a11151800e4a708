/*
 * families.c - reason words read as families, not as whole sentences.
 *
 * The phrase lists of reason_words.c hold whole phrases; a server's
 * sentence that combines the same words differently ("User not exist",
 * "the recipient's mailbox is unknown", "BAD_RECIPIENT", "utilisateur
 * est inconnu", "Ящик заблокирован") would be missed by them.  So the
 * reasons whose verdict matters most (hard or soft) are also read as
 * families: a noun that names the thing (the recipient's mailbox, its
 * domain, its account) and a word that says what is wrong with it
 * (absent, invalid, switched off), within FAM_GAP bytes of each other, in
 * either order, in one sentence, and not about the sender (no "sender",
 * "from", "helo", "client" or "your" shortly before the noun: then the
 * address that is bad is ours, RFC 3463 X.1.7/X.1.8, or our host's).
 *
 * The families (cls_family_group returns the lowest group found, as the
 * phrase groups do):
 *
 *   directory  a directory that does not list the user: "not listed
 *              in Domino Directory" (and its Japanese), "not found in
 *              the directory" (Exchange): the definite user-unknown
 *              group; a DNS "try again" after a host-not-found is the
 *              temporary network group (the resolver's TRY_AGAIN)
 *   full       a mailbox over its quota: RFC 3463 X.2.2; Dovecot "Not
 *              enough disk space", "quota exceeded", "insufficient
 *              storage"; soft
 *   suspend    an account or mailbox switched off: RFC 3463 X.2.1
 *              "mailbox disabled, not accepting messages"; Gmail "The
 *              email account that you tried to reach is disabled";
 *              soft, the address may come back
 *   host       a domain or host that does not resolve: RFC 3463 X.1.2
 *              "bad destination system address", RFC 5321 5.1 (no MX, no
 *              A); Postfix "Host or domain name not found", Sendmail
 *              "Host unknown", qmail "I couldn't find any host named";
 *              also any "absent" word right after a bare domain name
 *              ("553 mx.example.org does not exist")
 *   user       RFC 3463 X.1.1 "bad destination mailbox address": Postfix
 *              "User unknown in local recipient table", Sendmail "User
 *              unknown", Courier "No such user", qmail "no mailbox here
 *              by that name", Exchange "Recipient not found", Gmail "The
 *              email account that you tried to reach does not exist";
 *              also an "absent" word right after an address
 *
 * in English and the languages the phrase lists cover (French, German,
 * Spanish, Italian, Portuguese, Dutch, Chinese, Japanese, Russian).  A
 * Cyrillic word that may start a sentence is given without its first
 * letter: cls_flatten folds ASCII case only.  Underscores join words in
 * tokens ("bad_recipient", "USER_UNKNOWN"): a noun or a word may touch
 * one.  The nouns and words are phrase lists like the others, so the
 * k-fold measurement (tests/classify/kfold.py) sees their support.
 */
#include "cls_int.h"

#include <string.h>

#define FAM_GAP 16 /* bytes between a noun and its word */

static const char *const fam_dir_nouns[] = {
    "directory",     "address book", "recipient table", "alias table",
    "mailbox table", "user table",   "user database",   "ldap",
    "verzeichnis",   "annuaire",     "ディレクトリ",    NULL,
};
static const char *const fam_full_nouns[] = {
    /* cite: RFC 3463 X.2.2, the mailbox and its storage (Dovecot
     * MAIL_ERRSTR_NO_SPACE "Not enough disk space") */
    "mailbox",        "mail box",   "inbox",    "quota", "disk space",
    "storage",        "mailfolder", "postfach", "boîte", "buzón",
    "casella",        "caixa",      "邮箱",     "空间",  "容量",
    "メールボックス", "ящик",       NULL,
};
static const char *const fam_susp_nouns[] = {
    "account",  "mailbox", "user",       "recipient", "compte", "konto",
    "postfach", "cuenta",  "buzón",      "casella",   "conta",  "账户",
    "帐户",     "帐号",    "账号",       "邮箱",      "用户",   "アカウント",
    "ккаунт",   "ящик",    "ользовател", NULL,
};
/* The words of every family, searched in one pass (each word's first
 * place): FAM_DIR directory words, FAM_FULL words of a full mailbox,
 * FAM_SUSP words of a switched-off
 * mailbox, then the "absent" words (the first FAM_AFTER_NAME of those may
 * also follow a bare name; "invalid" and "不明" from
 * FAM_HOST_END on are too loose for a host: a bad HELO). */
static const char *const fam_words[] = {
    /* cite: a directory that does not list the user (Domino "not listed
     * in Domino Directory", Exchange "not found in the directory") */
    "not listed in",
    "not found in",
    "not in the",
    "リストにありません",
    "ne figure pas",
    "nicht aufgeführt",
    /* cite: RFC 3463 X.2.2 "mailbox full", the words per language
     * (Dovecot "Not enough disk space", Exchange "insufficient
     * storage", "quota exceeded") */
    "exceeded",
    "not enough",
    "insufficient",
    "已满",
    "不足",
    "いっぱい",
    "переполнен",
    /* cite: RFC 3463 X.2.1 "mailbox disabled", the words per language */
    "disabled",
    "suspended",
    "inactive",
    "deactivated",
    "locked",
    "frozen",
    "désactivé",
    "suspendu",
    "deaktiviert",
    "gesperrt",
    "suspendida",
    "desactivada",
    "sospeso",
    "disattivat",
    "desativad",
    "冻结",
    "停用",
    "禁用",
    "利用停止",
    "停止されて",
    "аблокирован",
    "тключен",
    "аморожен",
    /* cite: RFC 3463 X.1.1 and X.1.2, the words per language */
    "does not exist",
    "doesn't exist",
    "not exist",
    "not found",
    "unknown",
    "no existe",
    "non esiste",
    "não existe",
    "n'existe pas",
    "existiert nicht",
    "bestaat niet",
    "不存在",
    "存在しません",
    "見つかりません",
    "не найден",
    "не существует",
    "inconnu",
    "unbekannt",
    "desconocido",
    "sconosciuto",
    "desconhecido",
    "onbekend",
    "неизвестн",
    "inexist",
    "inesistente",
    "introuvable",
    "no such",
    "nonexistent",
    "non-existent",
    "non existent",
    "not known",
    "not recognized",
    "not recognised",
    "invalid",
    "not valid",
    "不明",
    NULL,
};
#define FAM_DIR        6
#define FAM_FULL       (FAM_DIR + 7)
#define FAM_SUSP       (FAM_FULL + 23)
#define FAM_AFTER_NAME (FAM_SUSP + 26)
#define FAM_HOST_END   (FAM_SUSP + 33)
#define FAM_NWORDS     (FAM_SUSP + 36)
_Static_assert(sizeof fam_words / sizeof fam_words[0] == FAM_NWORDS + 1,
               "fam_words: FAM_* ranges out of date");
static const char *const fam_user_nouns[] = {
    /* cite: RFC 3463 X.1.1 "destination mailbox", the nouns per language */
    "user",           "recipient",  "mailbox",    "address",    "account",
    "addressee",      "userid",     "local part", "local-part", "destinat",
    "utilisateur",    "compte",     "adresse",    "benutzer",   "empfänger",
    "postfach",       "usuario",    "buzón",      "cuenta",     "utente",
    "indirizzo",      "usuário",    "utilizador", "gebruiker",  "ontvanger",
    "用户",           "收件人",     "邮箱",       "账户",       "帐户",
    "帐号",           "账号",       "ユーザ",     "アカウント", "宛先",
    "メールアドレス", "ользовател", "дресат",     "ящик",       NULL,
};
static const char *const fam_host_nouns[] = {
    "domain", "host",     "mx record", "domaine", "dominio",
    "域名",   "ドメイン", "домен",     NULL,
};
/* before a noun: the thing named is ours, not the recipient's */
static const char *const fam_not_rcpt[] = {
    /* cite: RFC 3463 X.1.7/X.1.8: the sender's (or our host's) address */
    "sender", "from", "helo", "ehlo", "client", "your", "reverse", NULL,
};

static cls_phr words = CLS_PHR(fam_words);
static cls_phr dir_nouns = CLS_PHR_ANY(fam_dir_nouns);
static cls_phr susp_nouns = CLS_PHR_ANY(fam_susp_nouns);
static cls_phr full_nouns = CLS_PHR_ANY(fam_full_nouns);
static cls_phr user_nouns = CLS_PHR_ANY(fam_user_nouns);
static cls_phr host_nouns = CLS_PHR_ANY(fam_host_nouns);
static cls_phr not_rcpt = CLS_PHR_ANY(fam_not_rcpt);

/* Is there a sentence break in [a, b)? */
static bool fam_break(const char *a, const char *b)
{
	for (; a < b; a++)
		if (*a == ';' || ((*a == '.' || *a == '!' || *a == '?') &&
		                  (a + 1 == b || a[1] == ' ')))
			return true;
	return false;
}

/* Is [a, b) words only (letters of any script, white space, "'", '-',
 * '_')?  A noun and its word are one phrase ("user is not known",
 * "BAD_RECIPIENT"), not two parts of a line ("host mx.example.org said:
 * 550 unknown user"). */
static bool fam_only_words(const char *a, const char *b)
{
	for (; a < b; a++) {
		unsigned char c = (unsigned char)*a;

		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || c == ' ' ||
		      c == '\'' || c == '-' || c == '_' || c == '&'))
			return false;
	}
	return true;
}

static bool fam_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '-' || c == '@' || c == '_' || c == '+';
}

/* What ends right before p (past white space, ':', '>', quotes): 1 a
 * domain name (dotted, no '@', a letter in its last label), 2 an
 * address, 0 anything else. */
static int fam_name_before(const char *t, const char *p)
{
	const char *e = p, *s, *dot = NULL, *q;

	while (e > t && (e[-1] == ' ' || e[-1] == ':' || e[-1] == '>' ||
	                 e[-1] == '\'' || e[-1] == '"'))
		e--;
	s = e;
	while (s > t && fam_name_char(s[-1]))
		s--;
	while (e > s && e[-1] == '.')
		e--;
	if (e - s < 4)
		return 0;
	if (memchr(s, '@', (size_t)(e - s)))
		return 2;
	for (q = s; q < e; q++)
		if (*q == '.')
			dot = q;
	if (dot == NULL || dot == s || e - dot < 3)
		return 0;
	for (q = dot + 1; q < e; q++)
		if (*q >= 'a' && *q <= 'z')
			return 1;
	return 0;
}

/* Is a noun of nouns near the word at p (plen bytes) in t[0..n), in the
 * same sentence, and not about the sender? */
static bool fam_near(cls_phr *nouns, const char *t, size_t n, const char *p,
                     size_t plen, size_t gap)
{
	const char *end = t + n, *lo, *hi, *at, *ctx;
	int tries;

	lo = (size_t)(p - t) > gap + 16 ? p - gap - 16 : t;
	hi = (size_t)(end - p) > plen + gap + 16 ? p + plen + gap + 16 : end;
	/* the nouns of the window in turn, until one is joined to the word
	 * by words only */
	for (tries = 0; tries < 4 && lo < hi; tries++, lo = at + 1) {
		if (cls_phr_find(nouns, lo, (size_t)(hi - lo), &at) < 0)
			return false;
		if (at < p ? !fam_only_words(at, p)
		           : !fam_only_words(p + plen, at))
			continue;
		ctx = (size_t)(at - t) > 40 ? at - 40 : t;
		if (p < at && p > ctx)
			ctx = p; /* "unknown user": look before the word */
		return cls_phr_find(&not_rcpt, ctx, (size_t)(at - ctx), NULL) <
		           0 ||
		       fam_break(ctx, at);
	}
	return false;
}

/* A name that does not resolve, unless the answer says to try again (the
 * resolver's TRY_AGAIN: Postfix "Host not found, try again", a temporary
 * failure, RFC 1035 SERVFAIL): the words after it, from p to end. */
static int host_group(const char *p, const char *end)
{
	size_t left = (size_t)(end - p);

	return cls_find(p, left < 24 ? left : 24, "try again")
	           ? CLS_G_NET_TEMP
	           : CLS_G_HOSTUNKNOWN;
}

int cls_family_group(const char *t, size_t n)
{
	const char *first[FAM_NWORDS];
	int best = -1;
	size_t k;

	if (t == NULL || n == 0 ||
	    cls_phr_scan(&words, t, n, first, FAM_NWORDS) == 0)
		return -1;
	/* in the order of their groups: directory, full, switched off */
	for (k = 0; k < FAM_SUSP; k++)
		if (first[k] && fam_near(k < FAM_DIR    ? &dir_nouns
		                         : k < FAM_FULL ? &full_nouns
		                                        : &susp_nouns,
		                         t, n, first[k], strlen(fam_words[k]),
		                         k < FAM_DIR ? 3 * FAM_GAP : FAM_GAP))
			return k < FAM_DIR    ? CLS_G_DEFINITE
			       : k < FAM_FULL ? CLS_G_MAILBOXFULL
			                      : CLS_G_SUSPEND;
	for (k = FAM_SUSP; k < FAM_NWORDS; k++) {
		size_t plen;

		if (first[k] == NULL)
			continue;
		plen = strlen(fam_words[k]);
		if (k < FAM_AFTER_NAME) {
			int nm = fam_name_before(t, first[k]);

			if (nm == 1)
				return host_group(first[k] + plen, t + n);
			if (nm == 2)
				best = CLS_G_USERUNKNOWN;
		}
		if (k < FAM_HOST_END &&
		    fam_near(&host_nouns, t, n, first[k], plen, FAM_GAP))
			return host_group(first[k] + plen, t + n);
		if (fam_near(&user_nouns, t, n, first[k], plen, FAM_GAP))
			best = CLS_G_USERUNKNOWN;
	}
	return best;
}
