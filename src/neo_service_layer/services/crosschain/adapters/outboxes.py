"""The outbox names of the relay's transactions on each chain (the message view joins on them).

Apart from the gateways so that the view, which every API process loads, does not load web3 with the
EVM gateway.
"""

N3_OUTBOX = "crosschain-n3"
EVM_OUTBOX = "crosschain-evm"
