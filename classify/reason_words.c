/*
 * reason_words.c - the words a delivery report names its reason with.
 *
 * One table (cls_reason_patterns, searched in one pass by reason.c with
 * match.c): the reason groups in their order of precedence, then the SMTP
 * phase wording of evidence.c.  The taxonomy is Sisimai's (userunknown,
 * hostunknown, mailboxfull, filtered, blocked, ...); the phrases are what
 * real MTAs write, lower case as cls_flatten leaves a text.
 */
#include "cls_int.h"

static const char *const w_mailboxfull[] = {
    "mailbox full",
    "mailbox is full",
    "mailbox has exceeded",
    "mailbox exceeded",
    "mailbox size limit",
    "mailbox would exceed",
    "over quota",
    "overquota",
    "over the quota",
    "quota exceeded",
    "exceeded quota",
    "exceeds quota",
    "exceed the quota",
    "quota exceed",
    "disk quota",
    "user is over",
    "exceeded storage",
    "exceeded the storage",
    "exceeds storage",
    "insufficient disk space",
    "insufficient storage",
    "not enough storage",
    "not enough space",
    "out of storage",
    "mailfolder is full",
    "mail box full",
    "full mailbox",
    "is over its",
    "account is full",
    "inbox is full",
    "storage limit",
    "too much mail",
    "has too many messages",
    "status: 5.2.2",
    "mailbox is over",
    "not enough disk space",
    /* the family in other languages (RFC 3463 X.2.2) */
    "boîte pleine",
    "boite pleine",
    "boîte aux lettres pleine",
    "postfach voll",
    "postfach ist voll",
    "buzón lleno",
    "casella piena",
    "caixa cheia",
    "邮箱已满",
    "邮箱空间不足",
    "容量已满",
    "メールボックスがいっぱい",
    "容量オーバー",
    "переполнен",
    NULL,
};
static const char *const w_mesgtoobig[] = {
    "message too large",
    "message too big",
    "message is too large",
    "message is too big",
    "message size exceeds",
    "message length exceeds",
    "size exceeds the maximum",
    "exceeds the maximum message size",
    "exceeds size limit",
    "message size limit",
    "too large for",
    "message exceeds",
    "size of the message exceeds",
    "mail too large",
    NULL,
};
static const char *const w_exceedlimit[] = {
    "message header size exceeds limit",
    "exceeded the rate limit",
    "recipient limit exceeded",
    NULL,
};
static const char *const w_suspend[] = {
    "suspended",
    "account disabled",
    "account has been disabled",
    "account is disabled",
    "mailbox disabled",
    "mailbox is disabled",
    "mailbox has been disabled",
    "account is inactive",
    "mailbox is inactive",
    "inactive account",
    "account deactivated",
    "deactivated mailbox",
    "account has expired",
    "account expired",
    "account is locked",
    "temporary locked",
    "temporarily locked",
    "temporarily disabled",
    "has been frozen",
    "account frozen",
    "mailbox unavailable or access denied",
    "is not active",
    /* the family of a mailbox that exists but is switched off (RFC 3463
     * X.2.1 "mailbox disabled, not accepting messages"): Gmail "The
     * email account that you tried to reach is disabled", in other
     * languages too; soft, the address may come back */
    "is disabled",
    "been disabled",
    "is suspended",
    "been suspended",
    "is deactivated",
    "been deactivated",
    "is inactive",
    "compte désactivé",
    "compte suspendu",
    "konto deaktiviert",
    "postfach deaktiviert",
    "cuenta suspendida",
    "cuenta desactivada",
    "已冻结",
    "被冻结",
    "已停用",
    "被停用",
    "已禁用",
    "利用停止",
    NULL,
};
static const char *const w_hasmoved[] = {
    "has been moved",
    "address has changed",
    "mailbox has moved",
    "moved permanently",
    "no longer with",
    "no longer active at this address",
    NULL,
};
static const char *const w_norelaying[] = {
    "relay access denied",
    "relaying denied",
    "relay denied",
    "relay not permitted",
    "relaying not allowed",
    "not permitted to relay",
    "we do not relay",
    "unable to relay",
    "relaying prohibited",
    "relay not allowed",
    "relay prohibited",
    "not allowed to relay",
    "no relaying",
    "relaying mail to",
    "not our customer",
    "is not in my list of allowed rcpthosts",
    "rcpthosts",
    NULL,
};
static const char *const w_userunknown[] = {
    "user unknown",
    "unknown user",
    "no such user",
    "no such mailbox",
    "no such recipient",
    "no such address",
    "no such person",
    "unknown recipient",
    "recipient unknown",
    "unknown mailbox",
    "unknown local part",
    "unknown local-part",
    "unknown address",
    "address unknown",
    "unknown e-mail address",
    "unknown email address",
    "invalid recipient",
    "invalid mailbox",
    "invalid address",
    "recipient not found",
    "recipient does not exist",
    "recipient address rejected",
    "recipient rejected",
    "recipient not ok",
    "recipient is not local",
    "mailbox not found",
    "mailbox not present",
    "mailbox does not exist",
    "mailbox doesn't exist",
    "mailbox unavailable",
    "mailbox is unavailable",
    "mailbox invalid",
    "mailbox not available",
    "no mailbox",
    "user not found",
    "user does not exist",
    "user doesn't exist",
    "user not known",
    "user not exist",
    "user not active",
    "address does not exist",
    "address not present in directory",
    "account does not exist",
    "address not found",
    "addressee unknown",
    "email address could not be found",
    "email address does not exist",
    "email account that you tried to reach does not exist",
    "does not exist",
    "not a valid mailbox",
    "not a valid recipient",
    "not a valid user",
    "is not a known user",
    "no account by that name",
    "non-existent user",
    "nonexistent user",
    "non existent user",
    "there is no one at this address",
    "no longer accepts mail",
    "is wrong or no longer valid",
    "badrcptto",
    "validrcptto",
    "recipientnotfound",
    "recipient notfound",
    "bad recipient",
    "bad destination mailbox",
    "bad address",
    "destination addresses were unknown",
    "not a local address",
    "can't accept user",
    "archived recipient",
    "invalid or unknown virtual user",
    "utilisateur inconnu",
    "no existe",
    "nessun utente",
    "not listed in",
    "unrouteable address",
    "unroutable address",
    "no valid recipients",
    "user invalid",
    "account unavailable",
    "not our user",
    "addressee is unknown",
    /* The family, not one server's sentence: a word naming the
     * recipient's mailbox (user, recipient, mailbox, account, userid,
     * addressee) with a word saying it is not there.  RFC 3463 X.1.1 "bad
     * destination mailbox address"; the forms are those of Postfix
     * ("User unknown in local recipient table"), Sendmail ("User
     * unknown"), Exim ("Unrouteable address"), qmail ("no mailbox here
     * by that name"), Courier ("No such user"), Exchange
     * ("RESOLVER.ADR.RecipNotFound"), Gmail ("does not exist") and
     * Yahoo ("This user doesn't have a yahoo.com account"). */
    "user is unknown",
    "recipient is unknown",
    "mailbox unknown",
    "mailbox is unknown",
    "account unknown",
    "unknown account",
    "no such account",
    "account not found",
    "user not exist",
    "user does not exist",
    "user doesn't exist",
    "recipient doesn't exist",
    "recipient not exist",
    "mailbox not exist",
    "mailbox does not exist",
    "account doesn't exist",
    "addressee not found",
    "recipient address does not exist",
    "no such recipient here",
    "doesn't have an account",
    "does not have an account",
    "unknown userid",
    "userid unknown",
    "invalid userid",
    "no such userid",
    "delivery userid",
    "invalid user",
    "unknown recipient address",
    "recipnotfound",
    "mailboxnotfound",
    "usernotfound",
    "unknownuser",
    "nosuchuser",
    "invalid-recipient",
    /* other languages, the same family: French, German, Spanish,
     * Italian, Portuguese, Dutch, Chinese, Japanese, Russian (a
     * Cyrillic word that may start a sentence is given without its
     * first letter: cls_flatten folds ASCII case only) */
    "destinataire inconnu",
    "adresse inconnue",
    "utilisateur inexistant",
    "destinataire inexistant",
    "compte inexistant",
    "adresse inexistante",
    "destinataire introuvable",
    "adresse n'existe pas",
    "utilisateur n'existe pas",
    "destinataire n'existe pas",
    "compte n'existe pas",
    "lettres n'existe pas",
    "unbekannter empfänger",
    "empfänger unbekannt",
    "benutzer unbekannt",
    "unbekannter benutzer",
    "existiert nicht",
    "usuario desconocido",
    "destinatario desconocido",
    "usuario inexistente",
    "utente sconosciuto",
    "utente inesistente",
    "destinatario sconosciuto",
    "indirizzo inesistente",
    "non esiste",
    "usuário desconhecido",
    "utilizador desconhecido",
    "destinatário desconhecido",
    "não existe",
    "onbekende gebruiker",
    "gebruiker onbekend",
    "onbekende ontvanger",
    "bestaat niet",
    "用户不存在",
    "收件人不存在",
    "邮箱不存在",
    "账户不存在",
    "帐户不存在",
    "帐号不存在",
    "账号不存在",
    "地址不存在",
    "无此用户",
    "查无此人",
    "ユーザーが存在しません",
    "ユーザが存在しません",
    "アカウントが存在しません",
    "宛先が見つかりません",
    "存在しないメールアドレス",
    "メールアドレスは存在しません",
    "宛先不明",
    "あて先不明",
    "ользователь не найден",
    "ет такого пользователя",
    "еизвестный пользователь",
    "не существует",
    "дресат не найден",
    "чтовый ящик не найден",
    NULL,
};
static const char *const w_hostunknown[] = {
    "host unknown",
    "unknown host",
    "host not found",
    "domain not found",
    "domain does not exist",
    "no such domain",
    "unknown domain",
    "domain is not reachable",
    "domain must exist",
    "host or domain name not found",
    "name or service not known",
    "mail domain mentioned in email address is unknown",
    "the account or domain may not exist",
    "unrouteable mail domain",
    "no mx",
    "nxdomain",
    "domain name not found",
    "dns error",
    "domain couldn't be found",
    "domain could not be found",
    "host name lookup failure",
    "no route to host",
    /* the family of a name that does not resolve (RFC 3463 X.1.2 "bad
     * destination system address", RFC 5321 5.1 no MX/A): Postfix
     * "Host or domain name not found", Sendmail "Host unknown", Sun
     * Messaging Server/PMDF "illegal host/domain name found", in other
     * languages too */
    "no such host",
    "host does not exist",
    "domain doesn't exist",
    "domain unknown",
    "domain is unknown",
    "domain name does not exist",
    "non-existent domain",
    "nonexistent domain",
    "illegal host/domain",
    "domaine inconnu",
    "domaine introuvable",
    "domaine n'existe pas",
    "domain existiert nicht",
    "unbekannte domain",
    "dominio no existe",
    "dominio desconocido",
    "dominio inesistente",
    "域名不存在",
    "ドメインが存在しません",
    "омен не существует",
    NULL,
};
/* IP/domain block lists name the sender, before any "spam" word */
static const char *const w_dnsbl[] = {
    "blocked using", "spamhaus",  "spamcop",    "sorbs",     "dnsbl",
    "rbl",           "blacklist", "black list", "blocklist", "block list",
    "denylist",      "listed at", "listed on",  "listed in", NULL,
};
static const char *const w_spam[] = {
    "spam",
    "junk mail",
    "unsolicited",
    "bulk mail",
    "content filter",
    "message content rejected",
    "blacklisted content",
    "phish",
    NULL,
};
static const char *const w_virus[] = {
    "virus",
    "malware",
    "infected",
    NULL,
};
static const char *const w_blocked[] = {
    "blocked",
    "block list",
    "blocklist",
    "blacklist",
    "black list",
    "denylist",
    "listed at",
    "listed on",
    "listed in",
    "rbl",
    "dnsbl",
    "spamhaus",
    "spamcop",
    "sorbs",
    "barracuda",
    "reputation",
    "poor reputation",
    "access denied",
    "not allowed to send",
    "connection refused",
    "refused to talk",
    "client host rejected",
    "sender ip",
    "your ip",
    "ip address",
    "reverse dns",
    "rdns",
    "ptr record",
    "helo",
    "banned",
    "not authorized",
    "no access",
    "too many invalid recipients",
    "is not accepted",
    NULL,
};
static const char *const w_policy[] = {
    "policy",
    "dmarc",
    "spf",
    "dkim",
    "authentication",
    "sender verify",
    "sender address rejected",
    "sender rejected",
    "domain of sender",
    "sender domain",
    "sender is not",
    "only accepts mail from",
    NULL,
};
static const char *const w_toomanyconn[] = {
    "too many connections",
    "too many simultaneous",
    "connection limit",
    "too many recipients",
    "rate limit",
    "try again later",
    "temporarily deferred",
    "throttl",
    NULL,
};
static const char *const w_filtered[] = {
    "filtered",
    "rejected by the recipient",
    "refused by recipient",
    "recipient has blocked",
    "does not accept mail from",
    "due to extended inactivity",
    "not accepting mail",
    "recipient preferences",
    NULL,
};
static const char *const w_rejected[] = {
    "rejected", "refused", "not accepted", "denied", NULL,
};
static const char *const w_expired[] = {
    "retry timeout exceeded",
    "retry time not reached",
    "delivery time expired",
    "message expired",
    "has been delayed",
    "was delayed",
    "delivery delayed",
    "could not be delivered for",
    "too long",
    "timed out",
    "timeout",
    "time limit",
    "giving up",
    "gave up",
    "delivery temporarily suspended",
    "will continue",
    "will retry",
    "not yet been delivered",
    "unable to deliver for",
    "deferred",
    "expired",
    NULL,
};
static const char *const w_network[] = {
    "name server reply",
    "name service error",
    "dns lookup",
    "temporary failure in name resolution",
    "connection timed out",
    "network",
    "could not connect",
    "lost connection",
    "connection reset",
    "connection closed",
    "unable to connect",
    "routing loop",
    "mail loop",
    "loops back",
    "too many hops",
    NULL,
};
static const char *const w_system[] = {
    "system error",
    "internal error",
    "server error",
    "local error",
    "configuration error",
    "misconfigur",
    "temporary failure",
    "temporarily unavailable",
    "service unavailable",
    "unavailable",
    "i/o error",
    "resources",
    NULL,
};
static const char *const w_systemfull[] = {
    "system full",
    "insufficient system storage",
    "mail system full",
    NULL,
};
static const char *const w_content[] = {
    "content", "mime", "header", "8-bit", "8bit", "attachment", NULL,
};
static const char *const w_security[] = {
    "security", "tls", "ssl", "certificate", "encryption", NULL,
};
static const char *const w_mailer[] = {
    "command failed", "procmail",  "x-unix", "mailer error",
    "pipe to",        "exit code", NULL,
};

/* Phrases that would otherwise be read as a more generic class below
 * (a directory that does not list the user is not a block list; a name
 * lookup to be tried again is not a dead domain). */
static const char *const w_early_userunknown[] = {
    "not listed in domino directory",
    "not listed in the directory",
    "not listed in public name & address book",
    "ディレクトリのリストにありません",
    /* a reporting MTA's own verdict on the address, beside the reply
     * it relays */
    "the address couldn't be found",
    "the address could not be found",
    NULL,
};
static const char *const w_early_network[] = {
    "host not found, try again",
    "temporary failure in name resolution",
    "try again later (dns",
    NULL,
};

/* Everything a report's words are searched for, in one pass (match.c):
 * first the reasons, in their order of precedence (specific causes before
 * generic words like "rejected" or "unavailable"; the lowest group found
 * wins), then the SMTP phase wording (evidence.c). */
const cls_phr_group cls_reason_patterns[CLS_N_GROUPS + 1] = {
    {"userunknown", w_early_userunknown},
    {"networkerror", w_early_network},
    {"mailboxfull", w_mailboxfull},
    {"mesgtoobig", w_mesgtoobig},
    {"exceedlimit", w_exceedlimit},
    {"suspend", w_suspend},
    {"hasmoved", w_hasmoved},
    {"norelaying", w_norelaying},
    {"virusdetected", w_virus},
    {"blocked", w_dnsbl},
    {"hostunknown", w_hostunknown},
    {"userunknown", w_userunknown},
    {"spamdetected", w_spam},
    {"filtered", w_filtered},
    {"blocked", w_blocked},
    {"policyviolation", w_policy},
    {"toomanyconn", w_toomanyconn},
    {"systemfull", w_systemfull},
    {"networkerror", w_network},
    {"expired", w_expired},
    {"securityerror", w_security},
    {"mailererror", w_mailer},
    {"systemerror", w_system},
    {"contenterror", w_content},
    {"rejected", w_rejected},
    /* CLS_G_PHASE: the order cls_phase_of() takes them in */
    {"phase:no-rcpt", cls_ph_no_rcpt},
    {"phase:rcpt", cls_ph_rcpt},
    {"phase:mail", cls_ph_mail},
    {"phase:data", cls_ph_data},
    {NULL, NULL},
};

/* ---- word families: a noun for the mailbox beside a word for "absent" ----
 *
 * The lists above hold whole phrases; a server's sentence that combines
 * the same words differently ("User not exist", "recipient's mailbox is
 * unknown", "bad_recipient", "utilisateur est inconnu") would be missed.
 * So the user-unknown wording is also read as a family: a noun that names
 * the recipient's mailbox (fam_nouns) and a word that says it is absent
 * or invalid (fam_preds), within FAM_GAP bytes of each other, in either
 * order, with no sentence break between and no "sender" in front (then
 * the address that is bad is ours: RFC 3463 X.1.7).  The nouns and the
 * predicates are the words of RFC 3463 X.1.1 ("bad destination mailbox
 * address") as MTAs spell them (Postfix "User unknown in local recipient
 * table", Sendmail "User unknown", Courier "No such user", qmail "no
 * mailbox here by that name", Exchange "Recipient not found", Gmail "The
 * email account ... does not exist"), in the languages the phrase lists
 * cover.  A predicate that follows a bare domain name ("553
 * mx.example.org does not exist") says the host is unknown (X.1.2); one
 * that follows an address, that the mailbox is. */
static const char *const fam_nouns[] = {
    "user",        "recipient",    "mailbox",   "address",   "account",
    "addressee",   "userid",       "local part", "local-part", "destinat",
    "utilisateur", "compte",       "adresse",   "benutzer",  "empfänger",
    "postfach",    "usuario",      "buzón",     "cuenta",    "utente",
    "indirizzo",   "usuário",      "utilizador", "gebruiker", "ontvanger",
    "用户",        "收件人",       "邮箱",      "账户",      "帐户",
    "帐号",        "账号",         "ユーザ",    "アカウント", "宛先",
    "メールアドレス", "ользовател", "дресат",    "ящик",      NULL,
};
static const char *const fam_preds[] = {
    /* after a name (rank < FAM_AFTER_NAME): may follow a bare domain or
     * an address */
    "does not exist", "doesn't exist", "not exist",   "not found",
    "unknown",        "no existe",     "non esiste",  "não existe",
    "n'existe pas",   "existiert nicht", "bestaat niet", "不存在",
    "存在しません",   "見つかりません", "не найден",   "не существует",
    "inconnu",        "unbekannt",     "desconocido", "sconosciuto",
    "desconhecido",   "onbekend",      "неизвестн",   "inexist",
    "inesistente",    "introuvable",
    /* before or after a noun only */
    "no such", "invalid", "not valid", "nonexistent", "non-existent",
    "non existent", "not known", "not recognized", "not recognised",
    "bad", "不明", NULL,
};
#define FAM_AFTER_NAME 26
#define FAM_GAP        16
#define FAM_NPREDS     37

static cls_phr fam_noun_phr = CLS_PHR_ANY(fam_nouns);
static cls_phr fam_pred_phr = CLS_PHR(fam_preds);

static bool fam_break(const char *a, const char *b)
{
	for (; a < b; a++)
		if (*a == ';' || ((*a == '.' || *a == '!' || *a == '?') &&
		                  (a + 1 == b || a[1] == ' ')))
			return true;
	return false;
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
	const char *e = p, *s, *dot;

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
	dot = NULL;
	for (const char *q = s; q < e; q++)
		if (*q == '.')
			dot = q;
	if (dot == NULL || dot == s || e - dot < 3)
		return 0;
	for (const char *q = dot + 1; q < e; q++)
		if (*q >= 'a' && *q <= 'z')
			return 1;
	return 0;
}

int cls_family_group(const char *t, size_t n)
{
	const char *first[FAM_NPREDS];
	const char *end = t + n;
	int best = -1;
	size_t k;

	if (t == NULL || n == 0 ||
	    cls_phr_scan(&fam_pred_phr, t, n, first, FAM_NPREDS) == 0)
		return -1;
	for (k = 0; k < FAM_NPREDS && fam_preds[k]; k++) {
		const char *p = first[k], *lo, *hi, *at;
		size_t plen;

		if (p == NULL)
			continue;
		plen = strlen(fam_preds[k]);
		if (k < FAM_AFTER_NAME) {
			int nm = fam_name_before(t, p);

			if (nm == 1)
				return CLS_G_HOSTUNKNOWN;
			if (nm == 2)
				best = CLS_G_USERUNKNOWN;
		}
		/* a noun ending at most FAM_GAP before p, or starting at
		 * most FAM_GAP after its end */
		lo = p - t > FAM_GAP + 16 ? p - FAM_GAP - 16 : t;
		hi = (size_t)(end - p) > plen + FAM_GAP ? p + plen + FAM_GAP
		                                          : end;
		if (cls_phr_find(&fam_noun_phr, lo, (size_t)(hi - lo), &at) <
		    0)
			continue;
		if (at < p ? fam_break(at, p) : fam_break(p + plen, at))
			continue;
		/* "sender address invalid": the address is ours */
		if (cls_find(at - lo > 8 ? at - 8 : lo,
		             (size_t)(at - (at - lo > 8 ? at - 8 : lo)),
		             "sender") ||
		    cls_find(at - lo > 8 ? at - 8 : lo,
		             (size_t)(at - (at - lo > 8 ? at - 8 : lo)),
		             "from"))
			continue;
		best = CLS_G_USERUNKNOWN;
	}
	return best;
}
