/* The pod's "pause" container for the pod-level tests (tests/RedisSidecars.PodTests): it holds the pod's
 * network (and IPC) namespace, which every other container of the pod joins, as Kubernetes' pause does.
 * Built statically by scripts/images.sh into the image redis-sidecars-local/pause. Exits on SIGTERM/SIGINT. */
#include <signal.h>
#include <unistd.h>

static void stop(int signal_number)
{
    (void)signal_number;
    _exit(0);
}

int main(void)
{
    signal(SIGTERM, stop);
    signal(SIGINT, stop);
    for (;;)
        pause();
}
