//! Reading and writing packet captures (pcap, pcapng) of UDP datagrams.
