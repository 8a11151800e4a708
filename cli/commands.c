/*
 * commands.c - the table of groups and commands.  Each command's code
 * lives in the cmd_<group>.c file that defines its entry.
 */
#include "cli.h"
#include "cli_int.h"

#include <pthread.h>

static const cli_group groups[] = {
    {"inbox", "connected mailboxes: servers, sign-in, caps, tags"},
    {"config", "typed settings stored in the database"},
    {"vault", "the key that encrypts stored passwords and tokens"},
    {"contacts", "people to mail: import, lists, suppressions, forget"},
    {"template", "message templates: import, versions, preview"},
    {"campaign",
     "sequences: create, start, enroll, preview, explain, edit, delete"},
    {"outbox", "messages that may have been sent: list and resolve"},
    {"warmup", "ramped exchanges between your inboxes, Junk rescue, health"},
    {"domain", "sending domains paused or slowed toward a provider"},
    {"tenant", "Microsoft 365 tenants: shared external-recipient limits"},
    {"dns", "DNS through coldseq's resolver: lookups, SPF evaluation"},
    {NULL, NULL},
};

/* One table per line, so additions merge cleanly. */
/* clang-format off */
static const cli_cmd *const tables[] = {
    cli_cmds_init,
    cli_cmds_config,
    cli_cmds_vault,
    cli_cmds_inbox,
    cli_cmds_inbox_import,
    cli_cmds_inbox_test,
    cli_cmds_connect,
    cli_cmds_watch,
    cli_cmds_send,
    cli_cmds_classify,
    cli_cmds_contacts,
    cli_cmds_contacts_import,
    cli_cmds_template,
    cli_cmds_campaign,
    cli_cmds_campaign_explain,
    cli_cmds_run,
    cli_cmds_status,
    cli_cmds_doctor,
    cli_cmds_tenant,
    cli_cmds_stats,
    cli_cmds_warmup,
    cli_cmds_domain,
    cli_cmds_dns,
    cli_cmds_dns_spf,
};
/* clang-format on */

const cli_group *cli_groups(void)
{
	return groups;
}

/* One flat, NULL-terminated copy of the per-file tables, built once. */
static cli_cmd all_cmds[128];
static pthread_once_t all_once = PTHREAD_ONCE_INIT;

static void build_all(void)
{
	size_t t, n = 0;

	for (t = 0; t < sizeof tables / sizeof tables[0]; t++) {
		const cli_cmd *c;

		for (c = tables[t]; c->name; c++) {
			if (n >= sizeof all_cmds / sizeof all_cmds[0] - 1)
				cs_fatal("command table full");
			all_cmds[n++] = *c;
		}
	}
}

const cli_cmd *cli_commands(void)
{
	pthread_once(&all_once, build_all);
	return all_cmds;
}
