// The handler table: one handler per Kafka API. ApiVersions is derived from this list (the request
// router, server/kafka/router.ts, adds its handler), so adding an API here is all it takes to advertise it.
import type { Broker } from '../../broker/broker.js';
import { alterConfigsHandler, incrementalAlterConfigsHandler } from './alter-configs.js';
import { createPartitionsHandler } from './create-partitions.js';
import { createTopicsHandler } from './create-topics.js';
import { deleteRecordsHandler } from './delete-records.js';
import { deleteTopicsHandler } from './delete-topics.js';
import { describeClusterHandler } from './describe-cluster.js';
import { describeConfigsHandler } from './describe-configs.js';
import { fetchHandler } from './fetch.js';
import type { KafkaHandler } from './handler.js';
import { deleteGroupsHandler } from './delete-groups.js';
import { describeGroupsHandler } from './describe-groups.js';
import { findCoordinatorHandler } from './find-coordinator.js';
import { heartbeatHandler } from './heartbeat.js';
import { joinGroupHandler } from './join-group.js';
import { leaveGroupHandler } from './leave-group.js';
import { listGroupsHandler } from './list-groups.js';
import { offsetCommitHandler } from './offset-commit.js';
import { offsetFetchHandler } from './offset-fetch.js';
import { syncGroupHandler } from './sync-group.js';
import { initProducerIdHandler } from './init-producer-id.js';
import { listOffsetsHandler } from './list-offsets.js';
import { metadataHandler } from './metadata.js';
import type { ClusterNode } from '../../cluster/cluster-node.js';
import { offsetDeleteHandler } from './offset-delete.js';
import { offsetForLeaderEpochHandler } from './offset-for-leader-epoch.js';
import { produceHandler } from './produce.js';
import { addOffsetsToTxnHandler } from './add-offsets-to-txn.js';
import { addPartitionsToTxnHandler } from './add-partitions-to-txn.js';
import { describeTransactionsHandler } from './describe-transactions.js';
import { endTxnHandler } from './end-txn.js';
import { listTransactionsHandler } from './list-transactions.js';
import { txnOffsetCommitHandler } from './txn-offset-commit.js';
import { writeTxnMarkersHandler } from './write-txn-markers.js';

export function kafkaHandlers(broker: Broker, cluster: ClusterNode | null = null): KafkaHandler[] {
  return [
    produceHandler(broker),
    fetchHandler(broker, cluster),
    listOffsetsHandler(broker),
    metadataHandler(broker),
    createTopicsHandler(broker),
    deleteTopicsHandler(broker),
    deleteRecordsHandler(broker),
    initProducerIdHandler(broker),
    offsetForLeaderEpochHandler(broker),
    describeConfigsHandler(broker),
    alterConfigsHandler(broker),
    createPartitionsHandler(broker),
    incrementalAlterConfigsHandler(broker),
    describeClusterHandler(broker),
    offsetDeleteHandler(broker),
    findCoordinatorHandler(broker),
    joinGroupHandler(broker),
    syncGroupHandler(broker),
    heartbeatHandler(broker),
    leaveGroupHandler(broker),
    offsetCommitHandler(broker),
    offsetFetchHandler(broker),
    listGroupsHandler(broker),
    describeGroupsHandler(broker),
    deleteGroupsHandler(broker),
    addPartitionsToTxnHandler(broker),
    addOffsetsToTxnHandler(broker),
    endTxnHandler(broker),
    txnOffsetCommitHandler(broker),
    describeTransactionsHandler(broker),
    listTransactionsHandler(broker),
    // Between a cluster's brokers only: one node writes its own markers.
    ...(cluster !== null ? [writeTxnMarkersHandler(broker)] : []),
  ];
}
