/* alert.c: concert-alert, run by cron every minute: posts the new error lines and 5xx
 * responses of the logs in LOG_DIR as one Slack incoming-webhook message to
 * ALERT_WEBHOOK_URL (see cr_alert.h). Prints one JSON summary line; exits 1 only on a hard
 * error. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cr_alert.h"
#include "cr_config.h"
#include "cr_error.h"
#include "cr_log.h"

/* The webhook's answer body is of no interest. */
static size_t alert_discard(char *data, size_t size, size_t n, void *userp)
{
    return size * n;
}

/* POSTs body as JSON with a 5 s limit; returns the HTTP status, 0 when no answer came. */
static long alert_post(const char *url, const char *body, void *ctx)
{
    struct curl_slist *hl = NULL;
    long status = 0;
    CURLcode cc;
    CURL *c = curl_easy_init();

    if (c == NULL)
        goto out;
    hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, alert_discard);
    if ((cc = curl_easy_perform(c)) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        cr_log_warn("alert: posting to the webhook failed: %s", curl_easy_strerror(cc));
out:
    curl_slist_free_all(hl);
    if (c != NULL)
        curl_easy_cleanup(c);
    return status;
}

int main(void)
{
    char err[256], *logdir = NULL;
    struct cr_alert_summary sum = {0, 0, 0, 0};
    int rc = 1;

    if (cr_config_load(NULL, err, sizeof(err)) != CR_OK) {
        fprintf(stderr, "concert-alert: config: %s\n", err);
        return 1;
    }
    /* stderr (cron appends it to alert.log), never LOG_FILE: that may be a log it reads. */
    cr_log_open("alert", NULL, cr_config_get("LOG_LEVEL"));
    const char *url = cr_config_get("ALERT_WEBHOOK_URL");
    /* LOG_DIR, else the folder of LOG_FILE. */
    if (*cr_config_get("LOG_DIR") != '\0')
        logdir = strdup(cr_config_get("LOG_DIR"));
    else if (*cr_config_get("LOG_FILE") != '\0') {
        char *file = strdup(cr_config_get("LOG_FILE"));
        if (file != NULL)
            logdir = strdup(dirname(file));
        free(file);
    }
    if (*url != '\0') {
        if (logdir == NULL || *logdir == '\0') {
            cr_log_error("alert: set LOG_DIR (or LOG_FILE) to the folder of the logs");
            goto out;
        }
        curl_global_init(CURL_GLOBAL_ALL);
        int arc = cr_alert_run(logdir, url, alert_post, NULL, &sum);
        curl_global_cleanup();
        if (arc != CR_OK)
            goto out;
    }
    rc = 0;
out:
    printf("{\"posted\":%s,\"lines\":%ld,\"groups\":%ld}\n", sum.posted ? "true" : "false",
           sum.lines, sum.groups);
    free(logdir);
    cr_log_close();
    return rc;
}
