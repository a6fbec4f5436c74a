namespace VoiceAgent.Tests.Shared;

/// <summary>
/// Managed bytes a piece of steady-state work allocates on the calling thread. The work is measured up to
/// <c>rounds</c> times and the first round that allocates nothing ends it: the runtime itself may allocate once
/// while the measured path is being re-jitted (tiered compilation, on-stack replacement, a class constructor run
/// late), and on a loaded machine that can fall inside any single window. Code that allocates every time still
/// reports its bytes in every round.
/// </summary>
internal static class SteadyAllocation
{
    public static long Measure(Action work, int rounds = 3)
    {
        long least = long.MaxValue;
        for (var round = 0; round < rounds && least != 0; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            work();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        return least;
    }
}
