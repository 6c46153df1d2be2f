from tests.builders import TICKETS, a_full_ticket
def test_smoke(client):
    r = client.post(TICKETS, json=a_full_ticket())
    assert r.status_code == 201, r.text
    body = r.json()
    for k, v in a_full_ticket().items():
        assert body[k] == v, k
