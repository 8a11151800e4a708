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
    "mailbox size limit",
    "mailbox would exceed",
    "over quota",
    "over the quota",
    "quota exceeded",
    "exceeded quota",
    "exceeds quota",
    "exceed the quota",
    "quota exceed",
    "disk quota",
    "exceeded storage",
    "exceeded the storage",
    "exceeds storage",
    "insufficient storage",
    "not enough storage",
    "not enough space",
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
    /* cite: Dovecot lib-storage MAIL_ERRSTR_NO_SPACE */
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
    "message too big",          "message is too large",
    "message is too big",       "message size exceeds",
    "size exceeds the maximum", "exceeds size limit",
    "message size limit",       "size of the message exceeds",
    "mail too large",           NULL,
};
static const char *const w_exceedlimit[] = {
    "message header size exceeds limit",
    "exceeded the rate limit",
    "recipient limit exceeded",
    NULL,
};
static const char *const w_suspend[] = {
    "suspended", /* cite: RFC 3463 X.2.1 "mailbox disabled" */
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
    "relaying denied", /* cite: Sendmail check_rcpt "Relaying denied" */
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
    "user doesn't exist",
    "user not known",
    "user not active",
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
    "badrcptto", /* cite: qmail's badrcptto patch */
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
    "user doesn't exist",
    "mailbox does not exist",
    "no such recipient here",
    "doesn't have an account",
    "does not have an account",
    "delivery userid",
    /* tokens: "BAD_RECIPIENT" and the like (the families join words
     * at an underscore too: "USER_UNKNOWN") */
    "bad_recipient",
    "bad_rcpt",
    "bad_address",
    "bad_mailbox",
    "bad_user",
    "badrecipient",
    "recipnotfound", /* cite: Microsoft Exchange "RESOLVER.ADR.RecipNotFound" */
    "mailboxnotfound",
    "usernotfound",
    "unknownuser",
    "nosuchuser",
    "invalid-recipient",
    /* other languages, the same family: French, German, Spanish,
     * Italian, Portuguese, Dutch, Chinese, Japanese, Russian (a
     * Cyrillic word that may start a sentence is given without its
     * first letter: cls_flatten folds ASCII case only) */
    "lettres n'existe pas",
    "地址不存在",
    "无此用户",
    "查无此人",
    "存在しないメールアドレス",
    "あて先不明",
    "ет такого пользователя",
    NULL,
};
static const char *const w_hostunknown[] = {
    "host unknown",
    "host not found",
    "domain not found",
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
    /* the family of a name that does not resolve (RFC 3463 X.1.2 "bad
     * destination system address", RFC 5321 5.1 no MX/A): Postfix
     * "Host or domain name not found", Sendmail "Host unknown", Sun
     * Messaging Server/PMDF "illegal host/domain name found", in other
     * languages too */
    "illegal host/domain", /* cite: Sun/Oracle Messaging Server "illegal
                              host/domain name found" */
    NULL,
};
/* IP/domain block lists name the sender, before any "spam" word */
static const char *const w_dnsbl[] = {
    /* cite: RFC 5782, DNS blacklists and their answers ("listed in") */
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
    /* cite: RFC 5782, DNS blacklists */
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
    "connection refused",
    "refused to talk",
    "client host rejected",
    "your ip",
    "ip address",
    "reverse dns",
    "rdns",
    "ptr record",
    "helo",
    "banned", /* cite: amavisd-new "BANNED" contents category */
    "not authorized",
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
    "domain of sender", /* cite: Sendmail check_mail "Domain of sender address
                           ... does not exist" */
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
    "delivery temporarily suspended", /* cite: Postfix qmgr "delivery
                                         temporarily suspended" */
    "will continue",
    "not yet been delivered",
    "unable to deliver for",
    "deferred",
    "expired",
    NULL,
};
static const char *const w_network[] = {
    "name server reply",
    "name service error",
    "temporary failure in name resolution",
    "connection timed out",
    "network",
    "could not connect",
    "lost connection", /* cite: Postfix smtp "lost connection with HOST while
                          ..." */
    "connection reset",
    "connection closed",
    "mail loop", /* cite: Exim "Too many Received headers - suspected mail loop"
                  */
    "loops back",
    "no route to host", /* cite: POSIX strerror(EHOSTUNREACH) */
    "too many hops",    /* cite: Sendmail "Too many hops" (554 5.4.6) */
    NULL,
};
static const char *const w_system[] = {
    "internal error",      "server error",
    "local error",         "configuration error",
    "misconfigur",         "temporary failure",
    "service unavailable", "unavailable",
    "i/o error",           NULL,
};
static const char *const w_systemfull[] = {
    "system full",
    "insufficient system storage",
    "mail system full",
    NULL,
};
static const char *const w_content[] = {
    /* cite: RFC 6152 8BITMIME ("8-bit", "8bit") */
    "content", "mime", "header", "8-bit", "8bit", "attachment", NULL,
};
static const char *const w_security[] = {
    "security", "tls", "ssl", "certificate", "encryption", NULL,
};
static const char *const w_mailer[] = {
    /* cite: Sendmail "unknown mailer error N" */
    "command failed", "procmail",  "x-unix", "mailer error",
    "pipe to",        "exit code", NULL,
};

/* Phrases that would otherwise be read as a more generic class below
 * (a directory that does not list the user is not a block list; a name
 * lookup to be tried again is not a dead domain). */
static const char *const w_early_userunknown[] = {
    "not listed in domino directory", /* cite: Lotus Domino "User ... not listed
                                         in Domino Directory" */
    "not listed in the directory",
    "not listed in public name & address book",
    "ディレクトリのリストにありません", /* cite: Lotus Domino, the same in
                                           Japanese */
    /* a reporting MTA's own verdict on the address, beside the reply
     * it relays */
    "the address couldn't be found",
    "the address could not be found",
    NULL,
};
static const char *const w_early_network[] = {
    "host not found, try again", /* cite: Postfix dns_lookup(), TRY_AGAIN: "Host
                                    not found, try again" */
    "temporary failure in name resolution",
    "try again later (dns",
    /* cite: Sendmail and hstrerror(), TRY_AGAIN: a temporary failure */
    "host name lookup failure",
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
    {"phase:conn", cls_ph_conn},
    {"phase:rcpt-said", cls_ph_rcpt_said},
    {NULL, NULL},
};
