"""Our node gathers the other designated nodes' signatures (``submitoracleresponse``) and sends the
completed response itself.

Two designated nodes (``m = n - (n - 1) / 3`` = 2 of 2): our node and neo-go's own oracle service. neo-go
is configured to hand its signatures to our node's JSON-RPC endpoint (``/api/v1/native-oracle/rpc``,
neo-go's ``Oracle.Nodes``), while our worker hands its own only to itself: neo-go never holds our
signature, so every response on chain was completed and sent by our node, from neo-go's signature
verified against its designated key and our enclave's transaction."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from neo_service_layer.kernel.chain.adapters import privnet_deploy as deploy
from neo_service_layer.kernel.chain.adapters.local_chain import artifact
from neo_service_layer.kernel.chain.adapters.privnet import DEV_VALIDATOR_PUBLIC_KEY, find_free_port
from neo_service_layer.services.native_oracle.adapters.node import designate_oracles
from neo_service_layer.services.native_oracle.use_cases import SERVICE
from tests.e2e.chain.neogo_oracle import OraclePrivnet
from tests.e2e.chain.stack import Stack, call, close_stack, open_stack, sql, wait_for
from tests.e2e.chain.test_native_oracle_e2e import oracle_transactions
from tests.e2e.chain.tls_support import LoopbackCertificates, https_server

pytestmark = [pytest.mark.chain, pytest.mark.slow]


def peered_privnet(rpc_url: str) -> type[OraclePrivnet]:
    """neo-go's oracle service handing its signatures to ``rpc_url``."""

    class Peered(OraclePrivnet):
        def configure(self) -> Path:
            path = super().configure()
            config: dict[str, Any] = yaml.safe_load(path.read_text())
            config["ApplicationConfiguration"]["Oracle"]["Nodes"] = [rpc_url]
            path.write_text(yaml.safe_dump(config, sort_keys=False))
            return path

    return Peered


async def start_api(stack: Stack, port: int) -> subprocess.Popen[bytes]:
    with (stack.directory / "api.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "neo_service_layer", "serve", "--no-migrate"],
            env={**stack.env, "NSL_HTTP_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stack.workers.append(process)  # stopped with the stack
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as client:
        while True:
            assert process.poll() is None, (stack.directory / "api.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "the API did not start"
            try:
                if (await client.get("/health/live")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)


async def test_our_node_completes_and_sends_responses_with_neo_gos_signature(
    contracts_built: None, certificates: LoopbackCertificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_file))  # neo-go's fetches trust the test CA
    api_port = find_free_port()
    our_rpc = f"http://127.0.0.1:{api_port}/api/v1/native-oracle/rpc"
    stack = await open_stack(
        privnet=peered_privnet(our_rpc),
        oracle_allow_hosts="127.0.0.1",
        oracle_ca_file=str(certificates.ca_file),
    )
    try:
        with https_server(certificates) as web:
            ours = bytes.fromhex(stack.network.service_keys["native_oracle"])
            theirs = bytes.fromhex(DEV_VALIDATOR_PUBLIC_KEY)
            await designate_oracles(stack.committee, [ours, theirs])
            web.routes["/ticker"] = {"price": 42.17}
            nef, manifest = artifact("native_oracle_consumer")
            consumer = await deploy.deploy_contract(stack.committee, nef, manifest)
            first_block = stack.network.deployed_height
            await start_api(stack, api_port)
            stack.start_worker(NSL_NEO_ORACLE_PEERS=our_rpc)  # our signatures never reach neo-go
            await stack.committee.invoke(
                call(consumer, "requestMany", web.url("/ticker"), "$.price", 0, 3, deploy.GAS)
            )

            async def all_answered() -> bool:
                return bool((await stack.read(consumer, "answers")).as_int() == 3)

            await wait_for(all_answered, 60, "three callbacks completed by our node")
            assert (await stack.read(consumer, "lastResult")).value == b"[42.17]"
            responses = await oracle_transactions(stack, first_block)
            assert sorted(responses) == [0, 1, 2]
            keys = {
                k: ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), k) for k in (ours, theirs)
            }
            for tx in responses.values():
                invocation = tx.witnesses[1].invocation_script
                signatures = [invocation[i + 2 : i + 66] for i in range(0, len(invocation), 66)]
                message = stack.net.magic.to_bytes(4, "little") + tx.hash().to_array()
                signers = set()
                for signature in signatures:
                    der = encode_dss_signature(int.from_bytes(signature[:32]), int.from_bytes(signature[32:]))
                    for key, public in keys.items():
                        try:
                            public.verify(der, message, ec.ECDSA(hashes.SHA256()))
                        except InvalidSignature:
                            continue
                        signers.add(key)
                assert signers == {ours, theirs}
            # neo-go's signatures reached our node through its JSON-RPC endpoint
            kept = await sql(stack, "SELECT count(*) FROM native_oracle_signatures")
            sent = await sql(stack, f"SELECT count(*) FROM chain_outbox WHERE service = '{SERVICE}'")
            print(f"\npeers e2e: {kept[0][0]} signatures still kept, {sent[0][0]} responses in our outbox")
    finally:
        await close_stack(stack)
        shutil.rmtree(stack.directory, ignore_errors=True)
