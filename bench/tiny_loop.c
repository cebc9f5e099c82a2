/*
 * bench/tiny_loop.c - the minimal external loop of the harness benchmark:
 * eight chat-completion calls to $OPENAI_BASE_URL, each request carrying the
 * conversation so far, then the answer on stdout. One curl handle, so the
 * calls share a keep-alive connection, as an SDK's would.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    lg_buf *b = ud;
    return lg_buf_append(b, p, size * n) ? 0 : size * n;
}

int main(void)
{
    const char *base = getenv("OPENAI_BASE_URL");
    const char *id = getenv("LOOPGATE_CASE_ID");
    char url[512];
    lg_buf body = LG_BUF_INIT, msgs = LG_BUF_INIT, resp = LG_BUF_INIT;
    struct curl_slist *hd = NULL;
    CURL *c;
    int rc = 0;

    if (!base) {
        fprintf(stderr, "tiny_loop: OPENAI_BASE_URL is not set\n");
        return 2;
    }
    snprintf(url, sizeof url, "%s/chat/completions", base);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    c = curl_easy_init();
    hd = curl_slist_append(hd, "Content-Type: application/json");
    hd = curl_slist_append(hd, "Authorization: Bearer sk-bench");
    if (lg_buf_appendf(&msgs, "{\"role\":\"user\",\"content\":\"task %s: look up the weather "
                              "in the city of case %s and report it\"}",
                       id ? id : "0", id ? id : "0"))
        return 3;
    for (int call = 0; call < 8 && !rc; call++) {
        long status = 0;
        lg_buf_reset(&body);
        lg_buf_reset(&resp);
        if (lg_buf_appendf(&body, "{\"model\":\"gpt-4o-mini\",\"messages\":[%s]}", msgs.data))
            return 3;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body.len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
        if (curl_easy_perform(c) != CURLE_OK) {
            fprintf(stderr, "tiny_loop: call %d failed\n", call);
            rc = 1;
            break;
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) {
            fprintf(stderr, "tiny_loop: call %d: HTTP %ld: %.200s\n", call, status,
                    lg_buf_cstr(&resp));
            rc = 1;
            break;
        }
        if (lg_buf_appendf(&msgs, ",{\"role\":\"assistant\",\"content\":\"step %d\"},"
                                  "{\"role\":\"user\",\"content\":\"result %d: sunny, 21 C\"}",
                           call, call))
            return 3;
    }
    if (!rc)
        printf("done %s\n", id ? id : "0");
    curl_slist_free_all(hd);
    curl_easy_cleanup(c);
    curl_global_cleanup();
    lg_buf_release(&body);
    lg_buf_release(&msgs);
    lg_buf_release(&resp);
    return rc;
}
