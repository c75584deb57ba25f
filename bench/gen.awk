# The benchmark's data set and query file, the same for every server.
#
#   awk -v n=10000 -v q=100000 -v zone=bench.test. \
#       -v zonefile=Z -v queries=Q -v hosts=H -v srvconf=S -f gen.awk
#
# n A names hostNNNNNN and n SRV names _http._tcp.svcNNNNNN (target the host
# of the same number, so a server that adds glue has some to add), plus the
# wildcard *.wild. The query file is q lines, 80% A, 10% SRV and 10% names
# under the wildcard, drawn with a fixed seed so every run asks the same.
# dnsmasq reads no master files: `hosts` and `srvconf` are the same records
# in its formats (its wildcard is an --address flag set by the caller).

function addr(i) {
    # 10.0.0.1 upwards, skipping .0 and .255 host octets for readability.
    return sprintf("10.%d.%d.%d", int(i / 64516) % 256, int(i / 254) % 254, i % 254 + 1)
}

BEGIN {
    srand(5353)
    printf "$ORIGIN %s\n$TTL 300\n", zone > zonefile
    printf "@ SOA ns hostmaster 1 14400 3600 604800 300\n@ NS ns\nns A 127.0.0.1\n" > zonefile
    printf "*.wild A 10.255.255.1\n" > zonefile
    for (i = 0; i < n; i++) {
        printf "host%06d A %s\n", i, addr(i) > zonefile
        printf "_http._tcp.svc%06d SRV 0 10 8080 host%06d\n", i, i > zonefile
        printf "%s host%06d.%s\n", addr(i), i, zone > hosts
        printf "srv-host=_http._tcp.svc%06d.%s,host%06d.%s,8080,0,10\n", i, zone, i, zone > srvconf
    }
    for (j = 0; j < q; j++) {
        r = rand()
        k = int(rand() * n)
        if (r < 0.8)
            printf "host%06d.%s A\n", k, zone > queries
        else if (r < 0.9)
            printf "_http._tcp.svc%06d.%s SRV\n", k, zone > queries
        else
            printf "w%08d.wild.%s A\n", int(rand() * 100000000), zone > queries
    }
}
