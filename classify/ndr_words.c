/*
 * ndr_words.c - the words a delivery report without a DSN is known by
 * (ndr.c): who sends it, its subject, its text.
 *
 * Lower case, as cls_flatten leaves a text; a Cyrillic word that may
 * start a sentence is given without its first letter (cls_flatten folds
 * ASCII case only).  Failure wording comes in the languages the reason
 * words cover: English, German, French, Spanish, Italian, Portuguese,
 * Dutch, Chinese, Japanese and Russian.  Each list is one cls_phr
 * (cls_int.h) so the k-fold measurement sees every phrase's support.
 */
#include "cls_int.h"

static const char *const daemon_from[] = {
    "mailer-daemon",
    "postmaster",
    "mail delivery",
    "mail administrator",
    "maildelivery",
    "mail-delivery",
    "mdaemon",
    "mail system",
    "mailer@",
    "delivery subsystem",
    "bounce",
    "nobody@",
    "mail.delivery", /* cite: Postfix "Mail Delivery System", Sendmail
                        "Mail Delivery Subsystem", dotted */
    /* virus gateways and content scanners (Trend Micro InterScan,
     * McAfee, MailScanner, amavis) */
    "antivirus",
    "anti-virus",
    "virusscan",
    "virus scan",
    "mailscanner",
    "scanmail",
    "interscan",
    "amavis",
    "content filter",
    "contentfilter",
    "<>",
    NULL,
};

static const char *const fail_subject[] = {
    "undeliver",
    "undelivered",
    "delivery status notification (failure)",
    "delivery failure",
    "delivery failed",
    "failure notice",
    "returned mail",
    "mail system error",
    "delivery has failed",
    "non-delivery",
    "nondelivery",
    "non delivery",
    "not delivered",
    "could not send message",
    "delivery problem",
    "delivery notification",
    "returned to sender",
    "permanent error",
    "unable to deliver",
    "delivery error",
    "failed delivery",
    "message delivery failure",
    "mail delivery failed",
    "rejected",
    "nicht zustellbar",
    "unzustellbar",
    "non remis",
    "no se puede entregar",
    "devuelto",
    "onbestelbaar",
    "não entregue",
    "mancato recapito",
    "delivery status notification",
    "delivery report",
    "mail failure",
    "returned message",
    "delivery final failure",
    /* Chinese, Japanese, Russian providers' subjects */
    "退信",
    "无法投递",
    "投递失败",
    "发送失败",
    "邮件退回",
    "未能送达",
    "配信エラー",
    "送信エラー",
    "配送エラー",
    "配信失敗",
    "配送失敗",
    "送信できませんでした",
    "届きませんでした",
    "е доставлено",
    "едоставлен",
    "шибка доставки",
    "озврат письма",
    NULL,
};

static const char *const delay_subject[] = {
    "delayed",
    "delay",
    "warning: could not send",
    "still trying",
    "not yet delivered",
    "temporary failure",
    "verzögert",
    NULL,
};

static const char *const fail_body[] = {
    "could not be delivered",
    "couldn't be delivered",
    "was not delivered",
    "wasn't delivered",
    "could not deliver",
    "couldn't deliver",
    "unable to deliver",
    "undeliverable", /* cite: Microsoft Exchange NDR, subject "Undeliverable:"
                      */
    "delivery has failed",
    "delivery failed",
    "delivery to the following recipient",
    "permanent error",
    "fatal error",
    "failed permanently",
    "not be delivered",
    "returned to sender",
    "failed to deliver",
    "delivery of your message",
    "able to deliver",
    "mail delivery failed",
    "address not found",
    "user unknown",
    "no such user",
    "the following addresses had",
    "following recipient",
    "could not reach",
    "did not reach",
    "delivery to the following",
    "rejected your message",
    "not delivered to", /* cite: Lotus Domino/Notes NDR "was not delivered to:"
                         */
    "nicht zugestellt",
    "konnte nicht",
    "unzustellbar",
    "non remis",
    "n'a pas pu être remis",
    "no se pudo entregar",
    "no pudo ser entregado",
    "não foi possível entregar",
    "impossibile recapitare",
    "kon niet worden afgeleverd",
    "message could not",
    "failed recipient",
    "recipient address rejected",
    "returning message to sender",
    "delivery status notification",
    "error occurred",
    "was undeliverable",
    "there was an error",
    "no valid recipients",
    /* a full mailbox, when a mail system says it (Dovecot, Exchange,
     * provider notices) */
    "mailbox is full",
    "mailbox full",
    "over quota",
    "quota exceeded",
    /* cite: RFC 3464 2.1's human-readable part as Chinese, Japanese
     * and Russian providers word its failure sentence */
    "无法投递",
    "投递失败",
    "发送失败",
    "未能送达",
    "无法送达",
    "退回",
    "配信できませんでした",
    "送信できませんでした",
    "配送できませんでした",
    "届けられませんでした",
    "送信に失敗",
    "配信に失敗",
    "е может быть доставлено",
    "е было доставлено",
    "е удалось доставить",
    "оставка не удалась",
    "шибка доставки",
    NULL,
};

static const char *const delay_body[] = {
    "this is a warning only",
    "will be retried",
    "will continue trying",
    "will continue to try",
    "will retry",
    "will keep trying",
    "has been delayed",
    "delivery delayed",
    "delivery has been delayed",
    "not yet been delivered",
    "no need to resend",
    "do not need to resend",
    "still trying",
    "delivery attempts will continue",
    "message is delayed",
    "warning: message",
    NULL,
};

static const char *const permanent_body[] = {
    "permanent",
    "giving up",
    "gave up",
    "has been returned",
    "deleted from queue",
    "could not be delivered to one or more",
    NULL,
};

/* A virus gateway's or content scanner's notice (Trend Micro InterScan,
 * McAfee, MailScanner, amavis, Sophos PureMessage wordings): a failure
 * when it comes from a mail system or returns our message. */
static const char *const virus_words[] = {
    "virus",
    "infected",
    "malware",
    "quarantine",
    "banned attachment",
    "blocked attachment",
    "content filter",
    NULL,
};

/* A challenge/response system's request to prove we are a person
 * (an automatic responder acting for the recipient, RFC 3834: never a
 * bounce or a delay; the message waits for an answer, not for a
 * retry). */
static const char *const challenge_words[] = {
    "challenge/response",
    "challenge-response",
    "challenge response",
    "verify that you are a",
    "confirm that you are a",
    "prove that you are a",
    "verify you are a",
    "confirm you are a",
    "are a real person",
    "are a human",
    "not a robot",
    "add you to my whitelist",
    "add you to the whitelist",
    "added to my whitelist",
    "please verify your message",
    "please confirm your message",
    "to have your message delivered",
    "your message will be delivered once",
    "awaiting your confirmation",
    "bestätigen sie, dass",
    "confirmer que vous",
    NULL,
};

cls_phr cls_ndr_daemon_phr = CLS_PHR_ANY(daemon_from);
/* the subject's and the body's lists, each read in one pass */
static const cls_phr_group subject_lists[] = {
    {"fail", fail_subject},
    {"delay", delay_subject},
    {"virus", virus_words},
    {NULL, NULL},
};
static const cls_phr_group body_lists[] = {
    {"fail", fail_body},
    {"delay", delay_body},
    {"permanent", permanent_body},
    {NULL, NULL},
};
cls_phr cls_ndr_subject_phr = CLS_PHR_GROUPS(subject_lists);
cls_phr cls_ndr_body_phr = CLS_PHR_GROUPS(body_lists);
cls_phr cls_ndr_challenge_phr = CLS_PHR_ANY(challenge_words);
/* (a list of its own, read only when it matters: its short words would
 * make the body's one pass probe more places) */
cls_phr cls_ndr_virus_phr = CLS_PHR_ANY(virus_words);
