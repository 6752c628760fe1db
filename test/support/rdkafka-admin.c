/*
 * A tiny librdkafka admin client for tests (kcat has no admin commands). test/interop/rdkafka-configs
 * compiles it with `cc ... -lrdkafka` against Debian's librdkafka-dev and checks what it prints.
 *
 *   rdkafka-admin <bootstrap> create <topic> <partitions> [name=value ...]   CreateTopics
 *   rdkafka-admin <bootstrap> alter <topic> [name=value ...]                 AlterConfigs (replaces overrides)
 *   rdkafka-admin <bootstrap> describe <topic>                               DescribeConfigs
 *
 * One line per result: `<command> <topic> <ERROR_NAME> <error string>`; describe adds one line per
 * config: `config <name>\t<value>\t<source>\t<read-only 0|1>\t<synonym name=value/source;...>`.
 * Exit 0 when the broker answered (whatever it answered), 2 on a usage or client-side failure.
 * (IncrementalAlterConfigs needs librdkafka 2.2; Debian 12 ships 2.0.2.)
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int timeout_ms = 15000;

static int fail(const char *what, const char *detail) {
    fprintf(stderr, "rdkafka-admin: %s: %s\n", what, detail);
    return 2;
}

/* Splits "name=value" in place; returns the value, or NULL when there is no '='. */
static char *split_config(char *argument) {
    char *equals = strchr(argument, '=');
    if (equals == NULL) return NULL;
    *equals = '\0';
    return equals + 1;
}

/* Waits for the admin result event; NULL (after printing why) when it did not come or failed as a whole. */
static rd_kafka_event_t *wait_result(rd_kafka_queue_t *queue) {
    rd_kafka_event_t *event = rd_kafka_queue_poll(queue, timeout_ms + 5000);
    if (event == NULL) {
        fail("no result", "timed out");
        return NULL;
    }
    if (rd_kafka_event_error(event) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        fail("request failed", rd_kafka_event_error_string(event));
        rd_kafka_event_destroy(event);
        return NULL;
    }
    return event;
}

static void print_result(const char *command, const char *name, rd_kafka_resp_err_t error, const char *text) {
    printf("%s %s %s %s\n", command, name, rd_kafka_err2name(error), text != NULL ? text : "");
}

static int create_topic(rd_kafka_t *client, rd_kafka_queue_t *queue, int argc, char **argv) {
    char errstr[512];
    if (argc < 2) return fail("usage", "create <topic> <partitions> [name=value ...]");
    rd_kafka_NewTopic_t *topic = rd_kafka_NewTopic_new(argv[0], atoi(argv[1]), 1, errstr, sizeof errstr);
    if (topic == NULL) return fail("NewTopic", errstr);
    for (int i = 2; i < argc; i++) {
        char *value = split_config(argv[i]);
        if (value == NULL) return fail("not name=value", argv[i]);
        if (rd_kafka_NewTopic_set_config(topic, argv[i], value) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return fail("set_config", argv[i]);
    }
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof errstr);
    rd_kafka_CreateTopics(client, &topic, 1, options, queue);
    rd_kafka_event_t *event = wait_result(queue);
    if (event == NULL) return 2;
    size_t count = 0;
    const rd_kafka_topic_result_t **results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    for (size_t i = 0; i < count; i++)
        print_result("create", rd_kafka_topic_result_name(results[i]), rd_kafka_topic_result_error(results[i]),
                     rd_kafka_topic_result_error_string(results[i]));
    rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_NewTopic_destroy(topic);
    return 0;
}

static int alter_configs(rd_kafka_t *client, rd_kafka_queue_t *queue, int argc, char **argv) {
    char errstr[512];
    if (argc < 1) return fail("usage", "alter <topic> [name=value ...]");
    rd_kafka_ConfigResource_t *resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, argv[0]);
    for (int i = 1; i < argc; i++) {
        char *value = split_config(argv[i]);
        if (value == NULL) return fail("not name=value", argv[i]);
        if (rd_kafka_ConfigResource_set_config(resource, argv[i], value) != RD_KAFKA_RESP_ERR_NO_ERROR)
            return fail("set_config", argv[i]);
    }
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_ALTERCONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof errstr);
    rd_kafka_AlterConfigs(client, &resource, 1, options, queue);
    rd_kafka_event_t *event = wait_result(queue);
    if (event == NULL) return 2;
    size_t count = 0;
    const rd_kafka_ConfigResource_t **results =
        rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(event), &count);
    for (size_t i = 0; i < count; i++)
        print_result("alter", rd_kafka_ConfigResource_name(results[i]), rd_kafka_ConfigResource_error(results[i]),
                     rd_kafka_ConfigResource_error_string(results[i]));
    rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_ConfigResource_destroy(resource);
    return 0;
}

static int describe_configs(rd_kafka_t *client, rd_kafka_queue_t *queue, int argc, char **argv) {
    char errstr[512];
    if (argc < 1) return fail("usage", "describe <topic>");
    rd_kafka_ConfigResource_t *resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, argv[0]);
    rd_kafka_AdminOptions_t *options = rd_kafka_AdminOptions_new(client, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof errstr);
    rd_kafka_DescribeConfigs(client, &resource, 1, options, queue);
    rd_kafka_event_t *event = wait_result(queue);
    if (event == NULL) return 2;
    size_t count = 0;
    const rd_kafka_ConfigResource_t **results =
        rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count);
    for (size_t i = 0; i < count; i++) {
        print_result("describe", rd_kafka_ConfigResource_name(results[i]), rd_kafka_ConfigResource_error(results[i]),
                     rd_kafka_ConfigResource_error_string(results[i]));
        size_t entries = 0;
        const rd_kafka_ConfigEntry_t **configs = rd_kafka_ConfigResource_configs(results[i], &entries);
        for (size_t j = 0; j < entries; j++) {
            const char *value = rd_kafka_ConfigEntry_value(configs[j]);
            printf("config %s\t%s\t%s\t%d\t", rd_kafka_ConfigEntry_name(configs[j]), value != NULL ? value : "(null)",
                   rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(configs[j])),
                   rd_kafka_ConfigEntry_is_read_only(configs[j]));
            size_t synonym_count = 0;
            const rd_kafka_ConfigEntry_t **synonyms = rd_kafka_ConfigEntry_synonyms(configs[j], &synonym_count);
            for (size_t k = 0; k < synonym_count; k++) {
                const char *synonym_value = rd_kafka_ConfigEntry_value(synonyms[k]);
                printf("%s=%s/%s;", rd_kafka_ConfigEntry_name(synonyms[k]),
                       synonym_value != NULL ? synonym_value : "(null)",
                       rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(synonyms[k])));
            }
            printf("\n");
        }
    }
    rd_kafka_event_destroy(event);
    rd_kafka_AdminOptions_destroy(options);
    rd_kafka_ConfigResource_destroy(resource);
    return 0;
}

int main(int argc, char **argv) {
    char errstr[512];
    if (argc < 3) return fail("usage", "rdkafka-admin <bootstrap> create|alter|describe ...");
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) != RD_KAFKA_CONF_OK)
        return fail("bootstrap.servers", errstr);
    rd_kafka_t *client = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (client == NULL) return fail("rd_kafka_new", errstr);
    rd_kafka_queue_t *queue = rd_kafka_queue_new(client);
    int status;
    if (strcmp(argv[2], "create") == 0)
        status = create_topic(client, queue, argc - 3, argv + 3);
    else if (strcmp(argv[2], "alter") == 0)
        status = alter_configs(client, queue, argc - 3, argv + 3);
    else if (strcmp(argv[2], "describe") == 0)
        status = describe_configs(client, queue, argc - 3, argv + 3);
    else
        status = fail("unknown command", argv[2]);
    fflush(stdout);
    rd_kafka_queue_destroy(queue);
    rd_kafka_destroy(client);
    return status;
}
