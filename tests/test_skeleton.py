from openpose_edu import skeleton as sk


def test_parts_and_background():
    assert sk.N_PARTS == 18 and sk.N_HEATMAPS == 19 and sk.BACKGROUND == 18
    assert sk.PART_NAMES[:5] == ("Nose", "Neck", "RShoulder", "RElbow", "RWrist")
    assert sk.PART_NAMES[14:] == ("REye", "LEye", "REar", "LEar")


def test_limbs_cover_every_paf_channel_once():
    channels = sorted(c for limb in sk.LIMBS for c in limb.channels)
    assert channels == list(range(38))
    assert all(limb.paf_y == limb.paf_x + 1 and limb.paf_x % 2 == 0 for limb in sk.LIMBS)


def test_limb_table_matches_openpose_facts():
    # docs/openpose_facts.md section 2: pair, PAF x channel, and the reference demo's mapIdx - 19.
    pairs = [(limb.a, limb.b) for limb in sk.LIMBS]
    assert pairs[0] == (1, 2) and pairs[6] == (1, 8) and pairs[12] == (1, 0) and pairs[18] == (5, 17)
    map_idx = [31, 39, 33, 35, 41, 43, 19, 21, 23, 25, 27, 29, 47, 49, 53, 51, 55, 37, 45]
    assert [limb.paf_x for limb in sk.LIMBS] == [m - 19 for m in map_idx]
    training = [(limb.a, limb.b) for limb in sk.TRAINING_ORDER]
    assert training[:3] == [(1, 8), (8, 9), (9, 10)] and training[-1] == (15, 17)


def test_flip_is_an_involution_that_swaps_sides():
    flip = sk.FLIP_PARTS
    assert all(flip[flip[i]] == i for i in range(sk.N_PARTS))
    for i, name in enumerate(sk.PART_NAMES):
        other = sk.PART_NAMES[flip[i]]
        assert other == name if name in ("Nose", "Neck") else other[1:] == name[1:] and other[0] != name[0]


def test_coco_mapping():
    coco = sk.COCO_PART_NAMES
    for j, c in enumerate(sk.OPENPOSE_FROM_COCO):
        if c is None:
            assert sk.PART_NAMES[j] == "Neck"
            continue
        ours = sk.PART_NAMES[j].lower()
        side = {"r": "right_", "l": "left_"}.get(ours[0], "")
        assert coco[c] == (side + ours[1:] if side else ours)


def test_lookups():
    assert sk.part_index("RWrist") == 4
    assert sk.limb_by_name("RShoulder-RElbow").channels == (14, 15)
    assert len(sk.DRAWN_LIMBS) == 17 and len(sk.COLORS) >= sk.N_LIMBS
