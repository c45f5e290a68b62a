"""Local AWS: moto in a process of its own, patched for speed without changing a single answer."""

from __future__ import annotations

import http.client
import socket
import threading
import uuid
from functools import partial
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from stackrunner import free_port
from stackrunner.aws import LocalAws
from tests.support.concurrency import all_at_once

pytestmark = pytest.mark.integration


def _table(ddb, name: str) -> None:
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "gpk", "AttributeType": "S"},
            {"AttributeName": "due", "AttributeType": "N"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "ByGroup",
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "ByDue",
                "KeySchema": [
                    {"AttributeName": "gpk", "KeyType": "HASH"},
                    {"AttributeName": "due", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
    )
    for i in range(120):
        item = {"pk": {"S": f"p{i % 7}"}, "sk": {"S": f"{i:04d}"}, "blob": {"B": bytes([i])}}
        if i % 5:  # a sparse index: some items are not in it
            item["gpk"] = {"S": f"g{i % 3}"}
            item["due"] = {"N": str(1000 - i)}
        ddb.put_item(TableName=name, Item=item)


QUERIES = [
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p3"}}},
    {
        "KeyConditionExpression": "pk = :p AND sk > :s",
        "ExpressionAttributeValues": {":p": {"S": "p2"}, ":s": {"S": "0050"}},
        "ScanIndexForward": False,
        "Limit": 4,
    },
    {"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "nobody"}}},
    {
        "IndexName": "ByGroup",
        "KeyConditionExpression": "gpk = :g",
        "ExpressionAttributeValues": {":g": {"S": "g1"}},
        "ScanIndexForward": False,
        "Limit": 10,
    },
    {
        "IndexName": "ByGroup",
        "KeyConditionExpression": "gpk = :g",
        "ExpressionAttributeValues": {":g": {"S": "g2"}},
        "Limit": 5,
        "ExclusiveStartKey": {"pk": {"S": "p3"}, "sk": {"S": "0017"}, "gpk": {"S": "g2"}},
    },
    {
        "IndexName": "ByDue",
        "KeyConditionExpression": "gpk = :g AND due <= :until",
        "ExpressionAttributeValues": {":g": {"S": "g0"}, ":until": {"N": "950"}},
        "Limit": 6,
    },
]


def _answers(ddb, name: str) -> list[dict]:
    answers = []
    for query in QUERIES:
        result = ddb.query(TableName=name, **query)
        answers.append({k: result.get(k) for k in ("Items", "Count", "ScannedCount", "LastEvaluatedKey")})
    answers.append(ddb.get_item(TableName=name, Key={"pk": {"S": "p1"}, "sk": {"S": "0001"}})["Item"])
    return answers


def test_moto_serves_from_its_own_process_and_keeps_its_state_there(aws):
    # Given a table created through the endpoint
    name = f"t{uuid.uuid4().hex[:8]}"
    aws.client("dynamodb").create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # Then this process's moto knows nothing of it: the state lives in the child
    from moto.dynamodb.models import dynamodb_backends

    assert name not in dynamodb_backends["123456789012"]["us-east-1"].tables
    assert name in aws.client("dynamodb").list_tables()["TableNames"]


def test_stopping_ends_the_child_and_frees_the_port():
    server = LocalAws(port=free_port())
    server.start()
    server.stop()
    with socket.socket() as s:
        s.bind((server.host, server.port))  # nothing listens there any more


def test_in_process_mode_keeps_motos_state_in_this_process():
    server = LocalAws(port=free_port(), in_process=True)
    server.start()
    try:
        name = f"t{uuid.uuid4().hex[:8]}"
        server.client("sqs").create_queue(QueueName=name)
        from moto.sqs.models import sqs_backends

        assert name in sqs_backends["123456789012"]["us-east-1"].queues
    finally:
        server.stop()


def test_queries_and_reads_answer_exactly_as_motos_own(aws):
    # Given the same items in the patched server and in moto as it ships
    name = f"t{uuid.uuid4().hex[:8]}"
    _table(aws.client("dynamodb"), name)
    patched = _answers(aws.client("dynamodb"), name)
    with mock_aws():
        plain = boto3.client("dynamodb", region_name="us-east-1")
        _table(plain, name)
        reference = _answers(plain, name)
    # Then every page, order, cursor, projection and binary value is the same
    assert patched == reference
    assert patched[-1]["blob"] == {"B": b"\x01"}


def test_a_failed_transaction_undoes_only_its_own_writes(aws):
    # Given one thread writing items while another runs transactions whose condition fails
    ddb = aws.client("dynamodb")
    name = f"t{uuid.uuid4().hex[:8]}"
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=name, Item={"pk": {"S": "guard"}, "v": {"N": "1"}})
    done = threading.Event()

    def fail_transactions() -> None:
        client = aws.client("dynamodb")
        while not done.is_set():
            with pytest.raises(ClientError, match="TransactionCanceled"):
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": name, "Item": {"pk": {"S": "never"}}}},
                        {
                            "ConditionCheck": {
                                "TableName": name,
                                "Key": {"pk": {"S": "guard"}},
                                "ConditionExpression": "v = :two",
                                "ExpressionAttributeValues": {":two": {"N": "2"}},
                            }
                        },
                    ]
                )

    failing = threading.Thread(target=fail_transactions)
    failing.start()
    try:
        for i in range(60):
            ddb.put_item(TableName=name, Item={"pk": {"S": f"w{i}"}})
    finally:
        done.set()
        failing.join()
    # Then every write of the other thread is there, and nothing of the failed transactions
    keys = {item["pk"]["S"] for item in ddb.scan(TableName=name)["Items"]}
    assert keys == {"guard"} | {f"w{i}" for i in range(60)}


def test_received_messages_stay_hidden_for_their_visibility_timeout(aws):
    # Given a queue with a backlog
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"q{uuid.uuid4().hex[:8]}")["QueueUrl"]
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=str(i))
    # When messages are received in batches
    seen: list[str] = []
    for _ in range(3):
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        seen += [m["Body"] for m in batch.get("Messages", [])]
    # Then each is handed out once, and all count as in flight
    assert sorted(seen, key=int) == [str(i) for i in range(25)]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attrs["ApproximateNumberOfMessages"], attrs["ApproximateNumberOfMessagesNotVisible"]) == (
        "0",
        "25",
    )


def _racing_claims(aws: LocalAws, trials: int, racers: int = 4) -> int:
    """How many of `trials` had more than one winner when `racers` clients made the same
    conditional put at once (Powertools Idempotency's claim, the slot and lock writes' shape)."""
    clients = [aws.client("dynamodb") for _ in range(racers)]
    name = f"t{uuid.uuid4().hex[:8]}"
    clients[0].create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def claim(client, key: str) -> bool:
        try:
            client.put_item(
                TableName=name,
                Item={"id": {"S": key}},
                ConditionExpression="attribute_not_exists(id) OR expiration < :now",
                ExpressionAttributeValues={":now": {"N": "0"}},
            )
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
            return False
        return True

    doubled = 0
    for trial in range(trials):
        won = all_at_once(*[partial(claim, client, f"k{trial}") for client in clients])
        doubled += sum(won) > 1
    return doubled


def test_a_conditional_write_is_checked_and_written_in_one_step():
    """DynamoDB decides a conditional write atomically: of claims racing for one key, one wins.
    moto as it ships checks the condition and writes in two steps, and under thread switching two
    racers can both pass the check (6 to 58 trials in 100 here without the patch). The local stack's moto
    serialises its DynamoDB backend (IsolatedDynamoDB), so exactly-once claims hold there too."""
    import sys

    server = LocalAws(port=free_port(), in_process=True)  # the same patches as the child's
    interval = sys.getswitchinterval()
    server.start()
    try:
        sys.setswitchinterval(1e-6)  # a thread switch every few bytecodes: what a loaded server sees
        assert _racing_claims(server, trials=100) == 0
    finally:
        sys.setswitchinterval(interval)
        server.stop()


def _raw(
    connection: http.client.HTTPConnection, method: str, url: str, body: bytes = b""
) -> tuple[int, bytes]:
    """One request on `connection` to a presigned URL's path and query; the status and the body.

    The server must keep the connection open for the next request (no "Connection: close").
    """
    parts = urlsplit(url)
    headers = {"Content-Length": str(len(body))} if body else {}
    connection.request(method, f"{parts.path}?{parts.query}", body=body or None, headers=headers)
    answer = connection.getresponse()
    content = answer.read()
    assert not answer.will_close, answer.getheaders()
    return answer.status, content


def _object(s3, bucket: str, body: bytes) -> str:
    """A bucket holding `body` at key "a"; a presigned GET of it."""
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="a", Body=body)
    return _signed(s3, "get_object", bucket, "a")


def _signed(s3, method: str, bucket: str, key: str) -> str:
    return s3.generate_presigned_url(method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)


@pytest.fixture
def connection(aws):
    """One HTTP connection to the local moto, held across requests as the SDK's pool holds it."""
    connection = http.client.HTTPConnection("127.0.0.1", aws.port, timeout=10)
    yield connection
    connection.close()


def test_a_connection_stays_open_for_the_next_request(aws, connection):
    # werkzeug closes every connection after one answer; each AWS call then paid a connect, an accept
    # and a server thread. The SDK's pooled connection now serves call after call.
    url = _object(aws.client("s3"), "kept-alive", b"first")
    assert _raw(connection, "GET", url) == (200, b"first")
    opened = connection.sock
    assert opened is not None
    for _ in range(5):
        assert _raw(connection, "GET", url) == (200, b"first")
    assert connection.sock is opened  # the same connection all along, not a new one per request


def test_a_body_moto_leaves_unread_does_not_reach_the_next_request(aws, connection):
    # A GET with a body: moto answers without reading it. Were it left on the connection, the next
    # request line would be read from it.
    s3 = aws.client("s3")
    get = _object(s3, "unread-body", b"object")
    smuggled = f"GET {urlsplit(get).path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 20
    assert _raw(connection, "GET", get, body=smuggled) == (200, b"object")
    opened = connection.sock
    assert _raw(connection, "GET", get) == (200, b"object")
    assert connection.sock is opened
    assert _raw(connection, "PUT", _signed(s3, "put_object", "unread-body", "b"), body=b"second")[0] == 200
    assert s3.get_object(Bucket="unread-body", Key="b")["Body"].read() == b"second"


@pytest.fixture
def short_idle_server():
    """A server with moto's kept-alive handler whose idle connections close after 0.3 s, on a plain
    WSGI app (the handler, not moto, is under test)."""
    from werkzeug.serving import make_server as werkzeug_server

    from stackrunner.motoserver import keep_alive_handler

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = werkzeug_server("127.0.0.1", 0, app, True, request_handler=keep_alive_handler(0.3))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_an_idle_connection_is_closed_without_an_error(short_idle_server, caplog):
    # Every kept-alive connection the SDK leaves in its pool times out in the end: routine, not an
    # error line in every local run.
    connection = http.client.HTTPConnection("127.0.0.1", short_idle_server.server_port, timeout=5)
    connection.request("GET", "/")
    assert connection.getresponse().read() == b"ok"
    assert connection.sock is not None
    assert connection.sock.recv(1) == b""  # the server closed it once the idle time ran out
    connection.close()
    assert not [r for r in caplog.records if "timed out" in r.getMessage()]


def test_a_request_stalled_part_way_still_logs_its_timeout(short_idle_server, caplog):
    with socket.create_connection(("127.0.0.1", short_idle_server.server_port), timeout=5) as client:
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # the headers never end
        assert client.recv(1) == b""
    assert [r for r in caplog.records if "Request timed out" in r.getMessage()]
