/*
 * seq_campaign_edit.c - which changes a started campaign may take
 * (`campaign edit`): its window, time zone and pace, and steps no contact
 * has reached; everything its contacts were enrolled or threaded under
 * stays.  A draft takes any change.
 */
#define _POSIX_C_SOURCE 200809L
#include "seq.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool same_opt(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcasecmp(a, b) == 0);
}

static bool same_templates(const db_step *a, const db_step *b)
{
	size_t i;

	if (a->nvariants != b->nvariants || a->new_thread != b->new_thread)
		return false;
	for (i = 0; i < a->nvariants; i++)
		if (strcasecmp(a->variants[i].template_name,
		               b->variants[i].template_name) != 0)
			return false;
	return true;
}

static bool same_delay(const db_step *a, const db_step *b)
{
	return a->delay_amount == b->delay_amount &&
	       same_opt(a->delay_unit, b->delay_unit);
}

int seq_campaign_edit_check(const db_campaign *old, const db_campaign *new,
                            const db_campaign_progress_t *pr, int *keep,
                            cs_buf *why)
{
	/* settings a started campaign's contacts were enrolled or threaded
	 * under: changing them would treat the same campaign two ways */
	const struct {
		const char *key, *why;
		bool changed;
	} fixed[] = {
	    {"list",
	     "its contacts were enrolled from the list at start (add more "
	     "with 'campaign enroll')",
	     !same_opt(old->list, new->list)},
	    {"inboxes",
	     "threads in progress belong to the inboxes that started them",
	     !same_opt(old->inboxes, new->inboxes)},
	    {"esp_match", "contacts were already matched to inboxes by it",
	     old->esp_match != new->esp_match},
	    {"stop_on_auto_reply",
	     "contacts were already stopped or kept by the old rule",
	     old->stop_on_auto_reply != new->stop_on_auto_reply},
	    {"stop_company_on_reply",
	     "contacts were already stopped or kept by the old rule",
	     old->stop_company != new->stop_company},
	    {"allow_parallel", "contacts were enrolled by the old rule",
	     old->allow_parallel != new->allow_parallel},
	};
	int n = 0, r = pr->reached;
	size_t i, k;

	*keep = 0;
	if (strcasecmp(old->name, new->name) != 0) {
		cs_buf_printf(why,
		              "name: the file names '%s', not '%s' (edit "
		              "cannot rename a campaign)\n",
		              new->name, old->name);
		n++;
	}
	if (old->status == DB_CAMPAIGN_DRAFT)
		return n;
	for (i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
		if (fixed[i].changed) {
			cs_buf_printf(why,
			              "%s cannot change once the campaign has "
			              "started: %s\n",
			              fixed[i].key, fixed[i].why);
			n++;
		}
	}
	for (k = 1; k <= (size_t)r && k <= old->nsteps; k++) {
		if (k > new->nsteps) {
			cs_buf_printf(why,
			              "step %zu cannot be removed: contacts "
			              "already got it or have it queued\n",
			              k);
			n++;
		} else if (!same_templates(&old->steps[k - 1],
		                           &new->steps[k - 1]) ||
		           !same_delay(&old->steps[k - 1],
		                       &new->steps[k - 1])) {
			cs_buf_printf(
			    why,
			    "step %zu cannot change: contacts already "
			    "got it or have it queued (only steps "
			    "after step %d may change)\n",
			    k, r);
			n++;
		}
	}
	k = (size_t)r + 1;
	if (r > 0 && k <= old->nsteps && pr->waiting > 0) {
		if (k > new->nsteps) {
			cs_buf_printf(why,
			              "step %zu cannot be removed: contacts "
			              "already wait for it\n",
			              k);
			n++;
		} else if (!same_delay(&old->steps[k - 1],
		                       &new->steps[k - 1])) {
			cs_buf_printf(why,
			              "step %zu: the delay cannot change: "
			              "contacts already wait for this step by "
			              "the old delay (its templates may "
			              "change)\n",
			              k);
			n++;
		}
	}
	if (new->nsteps > old->nsteps && pr->completed > 0) {
		cs_buf_printf(why,
		              "steps cannot be added: %lld contacts already "
		              "finished the sequence and would never get "
		              "them\n",
		              pr->completed);
		n++;
	}
	*keep = r < (int)old->nsteps ? r : (int)old->nsteps;
	if ((size_t)*keep > new->nsteps)
		*keep = (int)new->nsteps;
	return n;
}
