using System.Buffers;

namespace VoiceAgent.Gateway.Protocol;

/// <summary>One thing to send to a client: an event, a reply audio frame (pooled PCM16 bytes) or the final close.</summary>
internal readonly record struct OutgoingItem(ServerEvent? Event, byte[]? Audio, int AudioLength, int Turn, int CloseCode, string? CloseReason)
{
    public bool IsAudio => Audio is not null;

    public bool IsClose => CloseCode != 0;

    public ReadOnlyMemory<byte> AudioBytes => Audio.AsMemory(0, AudioLength);
}

/// <summary>
/// A connection's outgoing queue: one FIFO (so events and audio keep their order — reply_audio_start before its
/// frames, barge_in after the last frame sent), bounded in both kinds. When a client reads too slowly the oldest
/// queued audio frame is dropped (and counted) to make room, so memory stays bounded and the caller hears the
/// newest audio; events are never dropped, and a client so far behind that even events pile up is disconnected.
/// Audio buffers come from <see cref="ArrayPool{T}.Shared"/>; whoever takes an audio item returns its buffer with
/// <see cref="Return"/>, and the queue returns the ones it drops or purges.
/// </summary>
internal sealed class SendQueue(int audioCapacity, int eventCapacity = 256) : IDisposable
{
    private readonly object _lock = new();
    private readonly LinkedList<OutgoingItem> _items = new();
    private readonly SemaphoreSlim _signal = new(0);
    private int _audioCount;
    private int _eventCount;
    private long _droppedFrames;
    private bool _closed;

    /// <summary>Audio frames dropped because the client fell behind.</summary>
    public long DroppedFrames => Interlocked.Read(ref _droppedFrames);

    /// <summary>Raised (outside the lock) with the number of frames dropped by one enqueue.</summary>
    public Action<int>? FramesDropped { get; set; }

    /// <summary>Audio frames waiting now.</summary>
    public int AudioCount
    {
        get
        {
            lock (_lock)
            {
                return _audioCount;
            }
        }
    }

    /// <summary>Queues an event; false when the client is so far behind that the event cap is reached (or closing).</summary>
    public bool TryEnqueueEvent(ServerEvent e)
    {
        lock (_lock)
        {
            if (_closed || _eventCount >= eventCapacity)
            {
                return false;
            }

            _items.AddLast(new OutgoingItem(e, null, 0, e.Turn ?? 0, 0, null));
            _eventCount++;
        }

        _signal.Release();
        return true;
    }

    /// <summary>Queues a frame (the queue owns <paramref name="pooled"/> from here on); drops the oldest frame when full.</summary>
    public void EnqueueAudio(byte[] pooled, int length, int turn)
    {
        var dropped = 0;
        lock (_lock)
        {
            if (_closed)
            {
                ArrayPool<byte>.Shared.Return(pooled);
                return;
            }

            while (_audioCount >= audioCapacity && RemoveFirstAudio())
            {
                dropped++;
            }

            _items.AddLast(new OutgoingItem(null, pooled, length, turn, 0, null));
            _audioCount++;
        }

        if (dropped > 0)
        {
            Interlocked.Add(ref _droppedFrames, dropped);
            FramesDropped?.Invoke(dropped);
        }

        _signal.Release();
    }

    /// <summary>Removes every queued frame of turns up to <paramref name="turn"/> (barge-in, cancel): they must never play.</summary>
    public int PurgeAudioThrough(int turn)
    {
        var purged = 0;
        lock (_lock)
        {
            for (var node = _items.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.IsAudio && node.Value.Turn <= turn)
                {
                    ArrayPool<byte>.Shared.Return(node.Value.Audio!);
                    _items.Remove(node);
                    _audioCount--;
                    purged++;
                }

                node = next;
            }
        }

        return purged;
    }

    /// <summary>Queues the close as the last item (anything after it is refused); idempotent.</summary>
    public void Close(int code, string reason)
    {
        lock (_lock)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            _items.AddLast(new OutgoingItem(null, null, 0, 0, code, reason));
        }

        _signal.Release();
    }

    /// <summary>Drops everything queued (returning the buffers) and queues the close at once, ahead of nothing.</summary>
    public void Abort(int code, string reason)
    {
        lock (_lock)
        {
            foreach (var item in _items)
            {
                Return(item);
            }

            _items.Clear();
            _audioCount = 0;
            _eventCount = 0;
            _closed = true;
            _items.AddLast(new OutgoingItem(null, null, 0, 0, code, reason));
        }

        _signal.Release();
    }

    /// <summary>Waits for the next item (FIFO).</summary>
    public async ValueTask<OutgoingItem> DequeueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            lock (_lock)
            {
                if (_items.First is { } first)
                {
                    _items.RemoveFirst();
                    if (first.Value.IsAudio)
                    {
                        _audioCount--;
                    }
                    else if (first.Value.Event is not null)
                    {
                        _eventCount--;
                    }

                    return first.Value;
                }
            }

            // The signal may run ahead of the items (drops and purges remove items without taking a count): loop.
            await _signal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Returns an audio item's buffer after sending it.</summary>
    public static void Return(in OutgoingItem item)
    {
        if (item.Audio is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Drops everything left (connection gone) and returns the buffers.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _closed = true;
            foreach (var item in _items)
            {
                Return(item);
            }

            _items.Clear();
            _audioCount = 0;
            _eventCount = 0;
        }
    }

    public void Dispose()
    {
        Clear();
        _signal.Dispose();
    }

    private bool RemoveFirstAudio()
    {
        for (var node = _items.First; node is not null; node = node.Next)
        {
            if (node.Value.IsAudio)
            {
                ArrayPool<byte>.Shared.Return(node.Value.Audio!);
                _items.Remove(node);
                _audioCount--;
                return true;
            }
        }

        return false;
    }
}
