namespace VoiceAgent.Tests.Shared;

/// <summary>
/// Managed bytes a piece of steady-state work allocates on the calling thread. The work is measured up to
/// <c>rounds</c> times and the first round that allocates nothing ends it: the runtime itself may allocate once
/// while the measured path is being re-jitted (tiered compilation, on-stack replacement, a class constructor run
/// late), and on a loaded machine that can fall inside any single window. Code that allocates every time still
/// reports its bytes in every round. <see cref="Measurement.Rounds"/> says how often the work ran, for callers whose
/// work advances state they check afterwards.
/// </summary>
internal static class SteadyAllocation
{
    public readonly record struct Measurement(long Bytes, int Rounds);

    public static Measurement Measure(Action work, int maxRounds = 3)
    {
        var least = long.MaxValue;
        var rounds = 0;
        while (rounds < maxRounds && least != 0)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            work();
            least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            rounds++;
        }

        return new Measurement(least, rounds);
    }
}
